// The request mix of make bench: what a coding agent sends, in three classes
// (allowed, denied, MCP), with the decision the policy of bench/peers/ must give.
// Each request is written once, in the test-suite shorthand, and becomes an
// Envoy CheckRequest (agentwarden, OPA-Envoy) or a Cerbos CheckResources request.
import type { RequestShorthand } from '../../cli/src/request-shorthand.js';

export type RequestClass = 'allowed' | 'denied' | 'mcp';

export interface MixEntry {
  /** Short id, shown in the --verify table. */
  readonly id: string;
  readonly class: RequestClass;
  readonly expect: 'allow' | 'deny';
  /** The rule that decides it in bench/peers/agentwarden/policy.yaml. */
  readonly rule: string;
  readonly request: RequestShorthand;
}

export const MIX: readonly MixEntry[] = [
  // allowed
  { id: 'gh-issue', class: 'allowed', expect: 'allow', rule: 'gh-read-issues', request: { url: 'https://api.github.com/repos/acme/widgets/issues/42' } },
  { id: 'gh-comment', class: 'allowed', expect: 'allow', rule: 'gh-comment', request: { method: 'POST', url: 'https://api.github.com/repos/acme/widgets/issues/42/comments', headers: { 'x-github-api-version': '2022-11-28' }, body: { body: 'Reproduced on main; fix in #43.' } } },
  { id: 'gh-search', class: 'allowed', expect: 'allow', rule: 'gh-search', request: { url: 'https://api.github.com/search/issues?q=is%3Aopen+label%3Abug&per_page=20' } },
  { id: 'jira-search', class: 'allowed', expect: 'allow', rule: 'jira-search', request: { url: 'https://jira.internal/rest/api/3/search?jql=project%3DOPS&maxResults=50' } },
  { id: 'order-update', class: 'allowed', expect: 'allow', rule: 'orders-update', request: { method: 'PATCH', url: 'https://api.internal/v1/orders/O-17', headers: { 'x-agent-approval': 'granted' }, body: { status: 'shipped' } } },
  { id: 'gcs-read', class: 'allowed', expect: 'allow', rule: 'gcs-read-artifacts', request: { url: 'https://storage.googleapis.com/storage/v1/b/agent-artifacts/o/build.log' } },
  { id: 'slack-post', class: 'allowed', expect: 'allow', rule: 'slack-post', request: { method: 'POST', url: 'https://slack.com/api/chat.postMessage', headers: { 'x-slack-channel': 'C-eng' }, body: { text: 'build green' } } },
  { id: 'npm-tarball', class: 'allowed', expect: 'allow', rule: 'npm-tarball', request: { url: 'https://registry.npmjs.org/@types/node/-/node-24.0.0.tgz' } },
  // denied
  { id: 'gh-delete', class: 'denied', expect: 'deny', rule: 'gh-no-delete', request: { method: 'DELETE', url: 'https://api.github.com/repos/acme/widgets' } },
  { id: 'gh-hooks', class: 'denied', expect: 'deny', rule: 'gh-no-hooks', request: { url: 'https://api.github.com/repos/acme/widgets/hooks/7' } },
  { id: 'jira-bulk', class: 'denied', expect: 'deny', rule: 'default-deny', request: { url: 'https://jira.internal/rest/api/3/search?jql=project%3DOPS&maxResults=5000' } },
  { id: 'slack-random', class: 'denied', expect: 'deny', rule: 'default-deny', request: { method: 'POST', url: 'https://slack.com/api/chat.postMessage', headers: { 'x-slack-channel': 'C-random' }, body: { text: 'hi' } } },
  { id: 'user-pii', class: 'denied', expect: 'deny', rule: 'users-no-pii', request: { url: 'https://api.internal/v1/users/U-1/payment-methods/card-1' } },
  { id: 'billing', class: 'denied', expect: 'deny', rule: 'block-billing', request: { url: 'https://billing.internal/v1/invoices' } },
  { id: 'paste', class: 'denied', expect: 'deny', rule: 'block-paste', request: { method: 'POST', url: 'https://pastebin.com/api/api_post.php' } },
  { id: 'unknown-host', class: 'denied', expect: 'deny', rule: 'default-deny', request: { url: 'https://unknown.example.org/' } },
  // MCP
  { id: 'mcp-search', class: 'mcp', expect: 'allow', rule: 'mcp-search-docs', request: { url: 'https://mcp.tools.internal/mcp', mcp: { tool: 'search_docs', arguments: { query: 'rotate signing keys', limit: 10 } } } },
  { id: 'mcp-search-big', class: 'mcp', expect: 'deny', rule: 'default-deny', request: { url: 'https://mcp.tools.internal/mcp', mcp: { tool: 'search_docs', arguments: { query: '*', limit: 500 } } } },
  { id: 'mcp-init', class: 'mcp', expect: 'allow', rule: 'mcp-session', request: { url: 'https://mcp.tools.internal/mcp', mcp: { method: 'initialize' } } },
  { id: 'mcp-read', class: 'mcp', expect: 'allow', rule: 'mcp-read-file', request: { url: 'https://mcp.tools.internal/mcp', mcp: { tool: 'read_file', arguments: { path: 'README.md' } } } },
  { id: 'mcp-shell', class: 'mcp', expect: 'deny', rule: 'mcp-no-shell', request: { url: 'https://mcp.tools.internal/mcp', mcp: { tool: 'run_shell', arguments: { cmd: 'id' } } } },
];

/**
 * The one request per class that closed-loop throughput (h2load, one data file
 * per run) sends: an allowed POST with a path template and a header condition,
 * an explicit deny, and an MCP tools/call with an argument condition.
 */
export const THROUGHPUT_REQUESTS: Readonly<Record<RequestClass, string>> = {
  allowed: 'gh-comment',
  denied: 'gh-delete',
  mcp: 'mcp-search',
};

export const CLASSES: readonly RequestClass[] = ['allowed', 'denied', 'mcp'];

export function mixEntry(id: string): MixEntry {
  const e = MIX.find((m) => m.id === id);
  if (e === undefined) throw new Error(`bench: no request "${id}" in the mix`);
  return e;
}
