// Reads the oauth2 parts of an AgentPolicy (DESIGN.md "Brokered OAuth
// credentials"): spec.credentials[].oauth2 and a rule's `credential: {name,
// scopes}`, checking what the CRD's schema and CEL rules check, so that the CLI
// refuses exactly what the API server would.
import type { Problems } from './errors.js';
import { child, describe, isPlain, type FieldReader } from './fields.js';
import { OAUTH2_CLIENT_ID_KEY, OAUTH2_CLIENT_SECRET_KEY, type CredentialSpec, type OAuth2ClientAuth, type OAuth2Spec } from './model.js';

/** RFC 6749 section 3.3 scope-token. */
export const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
/** Form parameters the grant itself sets: spec.credentials[].oauth2.parameters may not name them. */
export const RESERVED_TOKEN_PARAMETERS: readonly string[] = ['grant_type', 'scope', 'client_id', 'client_secret', 'client_assertion', 'client_assertion_type', 'resource'];
export const MAX_OAUTH2_SCOPES = 64;
export const MAX_OAUTH2_PARAMETERS = 16;
const PARAMETER_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** spec.credentials[i].oauth2, read (undefined when absent). */
export function readOAuth2(c: FieldReader): OAuth2Spec | undefined {
  const o = c.object('oauth2');
  if (o === undefined) return undefined;
  o.rejectUnknown(['tokenUrl', 'clientSecretRef', 'scopes', 'audience', 'parameters', 'clientAuth']);
  const tokenUrl = o.string('tokenUrl', { required: true, maxLength: 2048 }) ?? '';
  if (tokenUrl !== '') {
    const problem = tokenUrlProblem(tokenUrl);
    if (problem !== undefined) o.report(child(o.path, 'tokenUrl'), `"${tokenUrl}" ${problem}`);
  }
  const ref = o.object('clientSecretRef', true);
  ref?.rejectUnknown(['name']);
  const secretName = ref?.string('name', { required: true, maxLength: 253, pattern: DNS_SUBDOMAIN, patternHint: 'a Secret name' }) ?? '';
  const scopes = o.stringList('scopes', { max: MAX_OAUTH2_SCOPES, maxLength: 256, pattern: SCOPE_TOKEN, patternHint: 'an OAuth scope (printable ASCII without spaces, quotes or backslashes)', unique: true });
  const audience = o.string('audience', { maxLength: 2048 });
  const parameters = o.stringMap('parameters', { maxLength: 2048 });
  const names = Object.keys(parameters);
  if (names.length > MAX_OAUTH2_PARAMETERS) o.report(child(o.path, 'parameters'), `must have at most ${MAX_OAUTH2_PARAMETERS} entries, got ${names.length}`);
  for (const name of names) {
    if (!PARAMETER_NAME.test(name)) o.report(child(child(o.path, 'parameters'), name), 'is not a form parameter name (letters, digits, "_", ".", "-", at most 64)');
    else if (RESERVED_TOKEN_PARAMETERS.includes(name)) o.report(child(child(o.path, 'parameters'), name), `is set by the grant itself (${name === 'resource' ? 'use audience' : name === 'scope' ? 'use scopes' : 'the client secret stays in clientSecretRef'})`);
  }
  const clientAuth = o.enumString<OAuth2ClientAuth>('clientAuth', ['ClientSecretBasic', 'ClientSecretPost'], 'ClientSecretBasic');
  return { tokenUrl, clientSecretRef: { name: secretName }, scopes, ...(audience === undefined ? {} : { audience }), parameters, clientAuth };
}

/** Why `url` cannot be a token endpoint; undefined when it can (https, a host, no fragment, no credentials). */
export function tokenUrlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'is not a URL';
  }
  if (parsed.protocol !== 'https:') return 'must be an https URL (the client secret travels in the request)';
  if (parsed.username !== '' || parsed.password !== '') return 'must not carry a user name or password (use clientSecretRef)';
  if (parsed.hash !== '') return 'must not have a fragment';
  return undefined;
}

/** A rule's `credential`: a name, or {name, scopes}. */
export interface RuleCredential {
  readonly name: string;
  readonly scopes?: readonly string[];
}

/** Reads rules[i].credential in either form; undefined when absent or wrong (reported). */
export function readRuleCredential(r: FieldReader, problems: Problems, path: string): RuleCredential | undefined {
  const value = r.raw('credential');
  if (value === undefined || value === null) return undefined;
  const at = child(path, 'credential');
  if (typeof value === 'string') {
    const name = r.string('credential', { maxLength: 63, pattern: DNS_LABEL, patternHint: 'a DNS label' });
    return name === undefined ? undefined : { name };
  }
  if (!isPlain(value)) {
    problems.add(at, `must be a credential name or {name, scopes}, got ${describe(value)}`);
    return undefined;
  }
  const o = r.object('credential');
  if (o === undefined) return undefined;
  o.rejectUnknown(['name', 'scopes']);
  const name = o.string('name', { required: true, maxLength: 63, pattern: DNS_LABEL, patternHint: 'a DNS label' });
  const scopes = o.has('scopes') ? o.stringList('scopes', { min: 1, max: MAX_OAUTH2_SCOPES, maxLength: 256, pattern: SCOPE_TOKEN, patternHint: 'an OAuth scope', unique: true }) : undefined;
  return name === undefined ? undefined : { name, ...(scopes === undefined ? {} : { scopes }) };
}

/**
 * What the CRD's CEL rules say about a rule's credential against spec.credentials:
 * scopes only for an oauth2 credential, and each of them one of its scopes.
 */
export function ruleCredentialProblem(ref: RuleCredential, credential: CredentialSpec): string | undefined {
  if (ref.scopes === undefined) return undefined;
  if (credential.oauth2 === undefined) return `asks for scopes, but credential "${credential.name}" is not an oauth2 credential`;
  const missing = ref.scopes.filter((s) => !credential.oauth2?.scopes.includes(s));
  if (missing.length > 0) return `asks for scope(s) ${missing.map((s) => `"${s}"`).join(', ')}, which credential "${credential.name}" does not have (its oauth2.scopes: ${credential.oauth2.scopes.join(' ') || 'none'})`;
  return undefined;
}

/** The scope set a rule's token carries: its own scopes, else all the credential's; sorted, without duplicates. */
export function effectiveScopes(ruleScopes: readonly string[] | undefined, credential: CredentialSpec | undefined): string[] {
  return [...new Set(ruleScopes ?? credential?.oauth2?.scopes ?? [])].sort();
}

/** The Secret a credential reads and the keys it reads there: secretRef's key, or client_id and client_secret. */
export function credentialSecret(c: CredentialSpec): { readonly name: string; readonly keys: readonly string[] } {
  if (c.oauth2 !== undefined) return { name: c.oauth2.clientSecretRef.name, keys: [OAUTH2_CLIENT_ID_KEY, OAUTH2_CLIENT_SECRET_KEY] };
  return { name: c.secretRef?.name ?? '', keys: c.secretRef === undefined ? [] : [c.secretRef.key] };
}
