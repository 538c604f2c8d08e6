// Test helpers: policies from inline YAML, compiled for a pod, loaded, and
// asked about requests written in the test-suite shorthand. Everything goes
// through the same public functions the CLI and the sidecar use.
import { parse } from 'yaml';
import {
  compileSnapshot, evaluate, loadSnapshot, parseAgentPolicy, TokenBuckets,
  type AgentPolicy, type CompileOptions, type Decision, type LoadedSnapshot, type PodIdentity, type SecretResolver,
} from '../src/index.js';
import { checkRequestFrom, type RequestShorthand } from '../../cli/src/request-shorthand.js';
import type { CheckRequest } from '../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';

export const NAMESPACE = 'support';

/** The agent pod most tests decide for. */
export const POD: PodIdentity = {
  namespace: NAMESPACE,
  name: 'support-agent-0',
  serviceAccount: 'support-agent',
  labels: { app: 'support-agent', team: 'care' },
};

/** Tuesday 3 March 2026, 09:00 UTC = 10:00 in Berlin (CET). */
export const TUESDAY_10_BERLIN = Date.UTC(2026, 2, 3, 9, 0);

/** Removes the common leading indentation, so YAML can be indented with the test code. */
export function dedent(text: string): string {
  const lines = text.replace(/^\n/, '').split('\n');
  const indents = lines.filter((l) => l.trim() !== '').map((l) => /^ */.exec(l)?.[0].length ?? 0);
  const cut = indents.length === 0 ? 0 : Math.min(...indents);
  return lines.map((l) => l.slice(cut)).join('\n');
}

/** Decodes inline YAML. */
export function yaml(text: string): unknown {
  return parse(dedent(text)) as unknown;
}

/** A whole AgentPolicy manifest written as YAML; metadata.namespace defaults to NAMESPACE. */
export function manifest(text: string, source = 'inline.yaml'): AgentPolicy {
  return parseAgentPolicy(yaml(text), source, NAMESPACE);
}

/** The manifest object (not yet parsed) of a policy named `name` with the given spec. */
export function manifestObject(name: string, spec: string, namespace = NAMESPACE): Record<string, unknown> {
  return { apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentPolicy', metadata: { name, namespace }, spec: yaml(spec) };
}

/** An AgentPolicy named `name` with `spec` written as YAML. */
export function policy(name: string, spec: string, opts: { readonly namespace?: string; readonly source?: string } = {}): AgentPolicy {
  return parseAgentPolicy(manifestObject(name, spec, opts.namespace), opts.source ?? `${name}.yaml`, NAMESPACE);
}

/** A fixed fake Secret store: every reference resolves to "secret:<ns>/<name>/<key>". */
export const fakeSecrets: SecretResolver = (namespace, name, key) => new TextEncoder().encode(`secret:${namespace}/${name}/${key}`);

export interface When {
  /** The CheckRequest's attributes.request.time. */
  readonly time?: number;
  /** The clock passed to evaluate (used when there is no request time). */
  readonly clock?: number;
}

/** A compiled and loaded snapshot with its own rate-limit state. */
export interface Agent {
  readonly loaded: LoadedSnapshot;
  readonly limiter: TokenBuckets;
  /** Decides a request written in the suite shorthand. */
  check(request: RequestShorthand, when?: When): Decision;
  /** Decides a CheckRequest as Envoy sends it. */
  checkRequest(check: CheckRequest, clock?: number): Decision;
}

/**
 * Compiles `policies` for `pod` (secrets from fakeSecrets unless options say
 * otherwise) and loads them. Pass `limiter` to share rate-limit state with
 * another Agent, as a sidecar does across snapshot updates.
 */
export function agent(
  policies: readonly AgentPolicy[], pod: PodIdentity = POD, options: CompileOptions = { resolveSecret: fakeSecrets }, limiter = new TokenBuckets(),
): Agent {
  const loaded = loadSnapshot(compileSnapshot(policies, pod, options));
  const checkRequest = (check: CheckRequest, clock = TUESDAY_10_BERLIN): Decision => evaluate(loaded, check, { nowMs: clock, rateLimiter: limiter });
  return {
    loaded,
    limiter,
    checkRequest,
    check: (request, when = {}) => checkRequest(checkRequestFrom(request, when.time), when.clock),
  };
}

/** The HTTP attributes of a CheckRequest, for tests that shape what Envoy sends. */
export function httpOf(check: CheckRequest): NonNullable<NonNullable<NonNullable<CheckRequest['attributes']>['request']>['http']> {
  const http = check.attributes?.request?.http;
  if (http === undefined) throw new Error('CheckRequest without attributes.request.http');
  return http;
}

/** A short description of a decision for failure messages: "allow read-tickets". */
export function verdict(d: Decision): string {
  return `${d.allowed ? 'allow' : 'deny'} ${d.rule}`;
}
