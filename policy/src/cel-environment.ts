// The CEL environment of DESIGN.md ("CEL environment"): the declared variables
// with their types, and the @bufbuild/cel runtime environment (standard
// library, the strings extension, a caching RE2, the step meter's function).
import { celEnv, type CelEnv } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { RE2JS } from '@bufbuild/re2';
import { METER_FUNCTIONS } from './cel-budget.js';
import { T, type CelT } from './cel-types.js';

function record(name: string, fields: Readonly<Record<string, CelT>>): CelT {
  return { kind: 'record', name, fields };
}

/**
 * The declared variables. Request data whose shape the policy cannot know
 * (body, MCP arguments, header values) is dyn: type errors in it are found at
 * evaluation, as in cel-go.
 */
export const VARIABLES: Readonly<Record<string, CelT>> = {
  request: record('request', {
    method: T.string, host: T.string, port: T.int, path: T.string,
    query: T.map(T.string, T.list(T.string)), headers: T.map(T.string, T.dyn),
    params: T.map(T.string, T.string), body: T.dyn,
  }),
  mcp: record('mcp', { method: T.string, tool: T.string, arguments: T.map(T.string, T.dyn) }),
  agent: record('agent', { namespace: T.string, name: T.string, serviceAccount: T.string, labels: T.map(T.string, T.string) }),
  now: T.timestamp,
  // The caller's session as it was before this request (DESIGN.md point 12).
  session: record('session', { id: T.string, taints: T.list(T.string) }),
};

/** Identifiers that name types (`type(x) == string`). */
export const TYPE_IDENTIFIERS: ReadonlySet<string> = new Set(['int', 'uint', 'double', 'bool', 'string', 'bytes', 'list', 'map', 'null_type', 'type', 'dyn', 'timestamp', 'duration']);

const MAX_REGEX_CACHE = 256;

/**
 * RE2 with compiled patterns cached: @bufbuild/cel compiles the pattern of
 * `matches` on every call otherwise. Bounded, since a pattern may be built from
 * request data.
 */
const cachingRe2 = {
  cache: new Map<string, RE2JS>(),
  compile(pattern: string): { test(text: string): boolean } {
    let re = this.cache.get(pattern);
    if (re === undefined) {
      re = RE2JS.compile(pattern);
      if (this.cache.size >= MAX_REGEX_CACHE) this.cache.clear();
      this.cache.set(pattern, re);
    }
    const compiled = re;
    return { test: (text: string): boolean => compiled.test(text) };
  },
};

let sharedEnv: CelEnv | undefined;

/** The evaluation environment, shared by every planned condition. */
export function runtimeEnvironment(): CelEnv {
  sharedEnv ??= celEnv({ funcs: [...strings, ...METER_FUNCTIONS], re2: cachingRe2 });
  return sharedEnv;
}
