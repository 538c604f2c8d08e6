// Reads AgentAccessRequest manifests from files and folders (YAML, several
// documents per file) for `agentwarden check --grant` and policy test suites:
// the grants a human approved, as the controller would compile them in.
import { PolicyError } from '../src/errors.js';
import { isAccessRequestManifest, parseAccessRequest } from '../src/access-request.js';
import type { AccessRequest } from '../src/model.js';
import { manifestFiles, readYamlDocuments } from './manifests.js';

/**
 * Every AgentAccessRequest in the files under `paths` (other kinds are
 * skipped). Each must be Approved with status.expiresAt: a file that holds a
 * request in any other state grants nothing, and says so instead of being
 * ignored. Throws PolicyError or InputError naming the file, object and field.
 */
export function loadGrants(paths: readonly string[]): AccessRequest[] {
  const out: AccessRequest[] = [];
  for (const file of paths.flatMap(manifestFiles)) {
    for (const doc of readYamlDocuments(file)) {
      if (isAccessRequestManifest(doc)) out.push(approvedGrant(doc, file));
    }
  }
  return out;
}

/** One AgentAccessRequest manifest (from a file or a test suite) that must be Approved. */
export function approvedGrant(doc: unknown, source: string): AccessRequest {
  const request = parseAccessRequest(doc, source);
  if (request.state !== 'Approved') {
    throw new PolicyError(source, `AgentAccessRequest ${request.namespace}/${request.name}`, [{ field: 'status.state', message: `is ${request.state}: only an Approved request (with status.expiresAt) is a grant` }]);
  }
  return request;
}
