// `make demo` on the local control plane, checked by what a user sees: the
// agent's calls through the real Envoy with what the agent got, the decision
// and its rule, what the upstream received (and whether the credential came
// with it); Ready and Synced policies; and every decision in Jaeger as a child
// of the agent's span; and one approval round trip (a refund denied until a
// person approves it with the CLI, then allowed with the grant named in the
// trace); the lethal trifecta refused per session, its deny linked in
// Jaeger to the decision that tainted the session; what differs between two
// rows of one call decided otherwise; and `agentwarden explain` on the decision
// ids the demo printed. Runs the demo as `make demo` does, on its own pod
// network slot (the demo itself uses 40). Needs root, like the demo.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { JAEGER_QUERY, KUBECONFIG, ROOT, kubectlOk } from './cluster.js';

const DEMO_SLOT = 41;

function runDemo(args: readonly string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'dist/demo/run.js'), ...args], { cwd: ROOT, timeout: 150_000, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : 1, out: stdout + stderr });
    });
  });
}

interface Row {
  readonly call: string;
  readonly agentGot: string;
  readonly decision: string;
  readonly rule: string;
  readonly upstreamGot: string;
  /** The indented lines under the row: the note, why, trace. */
  readonly lines: readonly string[];
  readonly trace: string;
}

/** Each table's rows: after a header line "agent call …", an unindented line of columns (two or more spaces apart), then indented lines. */
function parseTables(out: string): Row[][] {
  const lines = out.split('\n');
  const tables: Row[][] = [];
  let rows: Row[] | undefined;
  for (const l of lines) {
    if (l.startsWith('agent call')) {
      rows = [];
      tables.push(rows);
      continue;
    }
    if (rows === undefined) continue;
    if (l === '') {
      rows = undefined;
      continue;
    }
    if (l.startsWith('    ')) {
      const last = rows.pop();
      if (last === undefined) continue;
      const trace = /^ {4}trace ([0-9a-f]{32})$/.exec(l)?.[1];
      rows.push({ ...last, lines: [...last.lines, l.trim()], trace: trace ?? last.trace });
      continue;
    }
    const [call = '', agentGot = '', decision = '', rule = '', upstreamGot = ''] = l.split(/\s{2,}/);
    rows.push({ call, agentGot, decision, rule, upstreamGot, lines: [], trace: '' });
  }
  return tables;
}

function agentwarden(args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(join(ROOT, 'bin/agentwarden'), args, { env: { ...process.env, KUBECONFIG }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, out: stdout, err: stderr });
    });
  });
}

interface JaegerTags { readonly [key: string]: unknown }

/** The tags of the decision span Jaeger holds for `trace`. */
async function decisionTags(trace: string): Promise<JaegerTags | undefined> {
  const res = await fetch(`${JAEGER_QUERY}/api/traces/${trace}`);
  const body = (await res.json()) as { data?: { spans?: { operationName: string; tags: { key: string; value: unknown }[] }[] }[] };
  const span = body.data?.[0]?.spans?.find((s) => s.operationName === 'agentwarden.decision');
  return span === undefined ? undefined : Object.fromEntries(span.tags.map((t) => [t.key, t.value]));
}

function columns(r: Row): string[] {
  return [r.call, r.agentGot, r.decision, r.rule, r.upstreamGot];
}

describe('make demo', () => {
  let out = '';
  let code = -1;
  let rows: Row[] = [];
  /** The agent's calls, the approval round trip's, the lethal trifecta's. */
  let tables: Row[][] = [];
  beforeAll(async () => {
    ({ code, out } = await runDemo(['--slot', String(DEMO_SLOT), '--jaeger', JAEGER_QUERY]));
    tables = parseTables(out);
    rows = tables.flat();
  }, 160_000);

  it('runs to the end', () => {
    expect({ code, tail: out.slice(-2000) }).toMatchObject({ code: 0 });
  });

  it('delivers allowed REST calls through Envoy with the credential, and denied ones nowhere', () => {
    const table = rows.map(columns);
    expect(table).toContainEqual(['GET api.zendesk.com/api/v2/tickets/4711', '200', 'ALLOW', 'read-tickets', '200, credential']);
    expect(table).toContainEqual(['POST api.zendesk.com/api/v2/tickets', '200', 'ALLOW', 'write-tickets', '200, credential']);
    expect(table).toContainEqual(['GET billing.internal/v1/invoices', '403', 'DENY', 'block-billing', 'nothing']);
    expect(table).toContainEqual(['GET api.zendesk.com/api/v2/tickets/../billing/invoices', '403', 'DENY', 'invalid-request', 'nothing']);
    expect(table).toContainEqual(['POST mcp.support.internal/mcp', '403', 'DENY', 'mcp-no-deletes', 'nothing']);
    const crm = rows.find((r) => r.call === 'GET eu.crm.internal/customers/C-17');
    // The real Envoy decides at the real time: the CRM is open on weekdays 08:00-18:00 in Berlin.
    expect([['200', 'ALLOW', 'crm-business-hours', '200, no credential'], ['403', 'DENY', 'default-deny', 'nothing']]).toContainEqual(crm === undefined ? [] : columns(crm).slice(1));
  });

  it('sends the credential only to the decided host when the agent aims the request at another IP', () => {
    const steered = rows.find((r) => r.lines.some((l) => l.includes('Host: api.zendesk.com')));
    expect(steered === undefined ? [] : columns(steered)).toEqual(['GET api.zendesk.com/api/v2/tickets/4711', '200', 'ALLOW', 'read-tickets', `200, credential; 10.254.${DEMO_SLOT}.66: nothing`]);
  });

  it('shows the Audit policy\'s would-be deny without enforcing it', () => {
    const bulk = rows.find((r) => r.call === 'GET api.zendesk.com/api/v2/tickets?per_page=1000');
    expect(bulk?.decision).toBe('ALLOW');
    expect(bulk?.lines.join('\n')).toMatch(/why: .*the trial policy \(Audit mode\) would deny it/);
  });

  it('drives the MCP session with the SDK client: allowed calls reach the server, denied tool calls raise McpError with the reason', () => {
    const table = rows.map(columns);
    expect(table).toContainEqual(['MCP initialize', '200', 'ALLOW', 'mcp-session', 'received, no credential']);
    expect(table).toContainEqual(['MCP tools/list', '200', 'ALLOW', 'mcp-session', 'received, no credential']);
    expect(table).toContainEqual(['MCP tools/call issue_refund', '200', 'ALLOW', 'mcp-refunds', 'received, no credential']);
    const deletion = rows.find((r) => r.call === 'MCP tools/call delete_customer');
    expect(deletion === undefined ? [] : columns(deletion)).toEqual(['MCP tools/call delete_customer', '200 → McpError', 'DENY', 'mcp-no-deletes', 'nothing']);
    expect(deletion?.lines.join('\n')).toContain('the SDK raised McpError: MCP error -32001: denied by agentwarden: denied by rule "mcp-no-deletes"');
    const refunds = (tables[0] ?? []).filter((r) => r.call === 'MCP tools/call issue_refund').map((r) => [r.decision, r.rule]);
    expect(refunds).toEqual([['ALLOW', 'mcp-refunds'], ['DENY', 'mcp-large-refunds'], ['ALLOW', 'mcp-refunds'], ['ALLOW', 'mcp-refunds'], ['DENY', 'mcp-refunds']]);
    // The session's own requests are shown whatever the policy decides about them.
    expect(rows.map((r) => r.call)).toEqual(expect.arrayContaining(['MCP GET /mcp (the session\'s event stream)', 'MCP DELETE /mcp (end the session)']));
  });

  it('says why in words, for every call', () => {
    for (const r of rows) expect([r.call, r.lines.some((l) => /^why: \S/.test(l))]).toEqual([r.call, true]);
  });

  it('shows the policies Ready and Synced', () => {
    expect(out).toMatch(/support-agent\s+Enforce\s+13\s+True\s+True/);
    expect(out).toMatch(/support-agent-trial\s+Audit\s+1\s+True\s+True/);
  });

  it('has every decision in Jaeger under the agent\'s trace, with the rule the table shows', async () => {
    const summaries = [...out.matchAll(/(\d+) agent calls: (\d+) allowed, (\d+) denied\n/g)].map((m) => Number(m[1]));
    expect(summaries).toEqual(tables.map((t) => t.length));
    expect(rows.length).toBeGreaterThan(25);
    expect(out).toContain(`Jaeger has all ${rows.length} decision traces, each decision a child of the agent's span`);
    for (const r of rows) {
      const rule = (await decisionTags(r.trace))?.['agentwarden.rule'];
      expect([r.call, r.trace, rule]).toEqual([r.call, r.trace, r.rule]);
    }
  });

  it('says, under a call decided otherwise than the same call above, what differs (the body, field by field)', () => {
    const posts = (tables[0] ?? []).filter((r) => r.call === 'POST api.zendesk.com/api/v2/tickets');
    expect(posts.length).toBe(3);
    const [first, second, third] = posts;
    expect(first?.lines.some((l) => l.startsWith('vs the same call above'))).toBe(false);
    if (second?.decision !== first?.decision || second?.rule !== first?.rule) {
      expect(second?.lines).toContain(`vs the same call above (${first?.decision ?? ''}, rule ${first?.rule ?? ''}): ticket.type is "problem" (above: "question"), no ticket.subject (above: "Where is my order?")`);
    }
    // The third (no body) is compared with the second, the row just above it of that call.
    if (third?.decision !== second?.decision || third?.rule !== second?.rule) {
      expect(third?.lines.find((l) => l.startsWith('vs the same call above'))).toMatch(/^vs the same call above \((ALLOW|DENY), rule [a-z-]+\): no body this time \(above: one\)/);
    }
    // Every row that came out otherwise than the same call's row above says why it differs.
    for (const table of tables) {
      table.forEach((r, i) => {
        const above = table.slice(0, i).reverse().find((p) => p.call === r.call);
        const otherwise = above !== undefined && (above.decision !== r.decision || above.rule !== r.rule);
        expect([r.call, r.trace, r.lines.some((l) => l.startsWith(`vs the same call above (${above?.decision ?? ''}, rule ${above?.rule ?? ''}): `))]).toEqual([r.call, r.trace, otherwise]);
      });
    }
  });

  it('runs agentwarden explain on a denied call\'s decision id, which prints its rule, reason and the rule\'s current text', () => {
    const section = out.slice(out.indexOf('$ agentwarden explain '), out.indexOf('== An approval round trip'));
    const id = /^\$ agentwarden explain ([0-9a-f]{32}) /.exec(section)?.[1];
    const row = rows.find((r) => r.trace === id);
    expect(row?.decision).toBe('DENY');
    expect(section).toContain(`decision ${id ?? ''}: DENY at `);
    expect(section).toContain(`  rule       ${row?.rule ?? '?'}\n`);
    expect(section).toMatch(/\n {2}reason {5}\S.*\n/);
    expect(section).toMatch(new RegExp(`\n {2}rule now {3}AgentPolicy support/support-agent, generation \\d+:\n {4}- name: ${row?.rule ?? '?'}\n`));
  });

  it('shows with agentwarden status the pod SYNCED on a snapshot version, from the controller', () => {
    const section = out.slice(out.indexOf('$ agentwarden status -n support'));
    expect(section).toMatch(/^\$ agentwarden status -n support --controller-url http:\/\/127\.0\.0\.1:\d+ .*\nNAMESPACE +POD +STATE +VERSION +DESIRED +AGE +STREAMS +ERROR\nsupport +agent-0 +SYNCED +([0-9a-f]{12}) +\1 +\d+s +1\n/);
  });

  it('explains every decision id the table printed: agentwarden explain returns the rule and reason Jaeger holds', async () => {
    for (const r of rows) {
      const explained = await agentwarden(['explain', r.trace, '--jaeger-url', JAEGER_QUERY, '--skip-api-server', '-o', 'json']);
      const tags = await decisionTags(r.trace);
      const decisions = (JSON.parse(explained.out) as { decisions: { decision: { rule: string; reason: string; decision: string } }[] }).decisions;
      expect([r.call, explained.code, decisions.map((d) => [d.decision.decision, d.decision.rule, d.decision.reason])]).toEqual([r.call, 0, [[String(tags?.['agentwarden.decision']), r.rule, String(tags?.['agentwarden.reason'])]]]);
    }
  });

  describe('one approval round trip', () => {
    /** The AgentAccessRequest the first denied refund named. */
    const named = (): string => /→ the SDK raised McpError: MCP error -32001: denied by agentwarden: approval required: .*\(AgentAccessRequest support\/([a-z0-9-]+)\)\n/.exec(out.slice(out.indexOf('== An approval round trip')))?.[1] ?? '<none>';

    it('denies the large refund with an McpError naming the AgentAccessRequest, which `agentwarden requests` lists as Pending', () => {
      const name = named();
      expect(name).toMatch(/^agent-0-[0-9a-f]{12}$/);
      expect(out).toContain(`agent: tools/call issue_refund {"order":"O-7","amount":120,"currency":"EUR"}\n  → the SDK raised McpError: MCP error -32001: denied by agentwarden: approval required: rule "mcp-large-refunds" of policy "support-agent"`);
      expect(out).toContain(`    McpError data.approvalRequest: ${name}\n`);
      const listed = out.slice(out.indexOf('$ agentwarden requests -n support'), out.indexOf('$ agentwarden approve'));
      expect(listed).toMatch(new RegExp(`\\nsupport\\s+${name}\\s+agent-0\\s+POST mcp\\.support\\.internal/mcp tools/call issue_refund\\s+Pending\\s`));
    });

    it('approves it with the CLI as a person, stamped by the webhook, and the grant reaches the sidecar', async () => {
      const name = named();
      expect(out).toContain(`$ agentwarden approve support/${name} --for 5m --reason "customer sent photos of the damaged parcel"\nagentwarden approve: support/${name} is Approved (POST mcp.support.internal/mcp tools/call issue_refund) by agentwarden-e2e-admin until `);
      expect(out).toMatch(/\(the grant reached the sidecar \d+\.\d s after the command: its snapshot went from [0-9a-f]{12}… to [0-9a-f]{12}…\)/);
      const request = JSON.parse(await kubectlOk(['get', 'agentaccessrequest', '-n', 'support', name, '-o', 'json'])) as { spec: Record<string, unknown>; status?: Record<string, unknown> };
      expect(request.spec).toMatchObject({ pod: 'agent-0', origin: { policy: 'support-agent', rule: 'mcp-large-refunds' }, operation: { host: 'mcp.support.internal', mcp: { tool: 'issue_refund', arguments: { order: 'O-7', amount: 120, currency: 'EUR' } } } });
      expect(request.status).toMatchObject({ approvedBy: 'agentwarden-e2e-admin', reason: 'customer sent photos of the damaged parcel' });
    });

    it('allows the same call once approved, naming the grant, and still denies another amount; Jaeger records both', async () => {
      const name = named();
      const [denied, allowed, other] = tables[1] ?? [];
      expect([denied, allowed, other].map((r) => (r === undefined ? [] : columns(r)))).toEqual([
        ['MCP tools/call issue_refund', '200 → McpError', 'DENY', 'mcp-large-refunds', 'nothing'],
        ['MCP tools/call issue_refund', '200', 'ALLOW', 'mcp-large-refunds', 'received, no credential'],
        ['MCP tools/call issue_refund', '200 → McpError', 'DENY', 'mcp-large-refunds', 'nothing'],
      ]);
      expect(allowed?.lines).toContain(`grant ${name} (approval), as the decision span records it (agentwarden.grant)`);
      expect(allowed?.lines.join('\n')).toMatch(/why: agentwarden-e2e-admin approved AgentAccessRequest agent-0-[0-9a-f]{12}: its grant allows this exact call/);
      expect(other?.lines.join('\n')).toContain('arguments {"order":"O-7","amount":130,"currency":"EUR"}');
      expect(await decisionTags(allowed?.trace ?? '')).toMatchObject({ 'agentwarden.decision': 'allow', 'agentwarden.grant': name, 'agentwarden.grant.kind': 'approval' });
      expect(await decisionTags(denied?.trace ?? '')).toMatchObject({ 'agentwarden.decision': 'deny', 'agentwarden.approval.request': name });
      const otherRequest = (await decisionTags(other?.trace ?? ''))?.['agentwarden.approval.request'];
      expect(otherRequest).toMatch(/^agent-0-[0-9a-f]{12}$/);
      expect(otherRequest).not.toBe(name);
    });
  });

  describe('the lethal trifecta', () => {
    const SLACK = 'POST hooks.slack.com/services/T0/B0/demo';

    it('delivers a post to Slack after the ticket reads, lets web_fetch through, then refuses the next post', () => {
      expect((tables[2] ?? []).map(columns)).toEqual([
        [SLACK, '200', 'ALLOW', 'post-to-slack', '200, no credential'],
        ['MCP tools/call web_fetch', '200', 'ALLOW', 'mcp-web-fetch', 'received, no credential'],
        [SLACK, '403', 'DENY', 'no-exfil-after-pii-and-untrusted', 'nothing'],
      ]);
    });

    it('links the deny, in Jaeger, to the web_fetch decision that tainted the session untrusted', async () => {
      const [, fetched, denied] = tables[2] ?? [];
      const printed = /→ MCP tools\/call web_fetch at mcp\.web\.internal: rule mcp-web-fetch added \["untrusted"\] \(trace ([0-9a-f]{32})\)/.exec(out)?.[1];
      expect(printed).toBe(fetched?.trace);
      expect(out).toContain(`The deny's decision span (trace ${denied?.trace ?? ''}) carries session taints ["pii","untrusted"]`);
      const res = await fetch(`${JAEGER_QUERY}/api/traces/${denied?.trace ?? ''}`);
      const body = (await res.json()) as { data?: { spans?: { operationName: string; references: { refType: string; traceID: string }[] }[] }[] };
      const span = body.data?.[0]?.spans?.find((x) => x.operationName === 'agentwarden.decision');
      expect(span?.references.filter((r) => r.refType === 'FOLLOWS_FROM').map((r) => r.traceID.padStart(32, '0'))).toContain(fetched?.trace);
    });
  });

  describe('the baseline the calls taught', () => {
    it('shows the AgentBaseline the controller wrote from the sidecar\'s summaries, still learning, with the calls it saw', async () => {
      const section = out.slice(out.indexOf('== What the agent\'s baseline learned'));
      const row = /\n(\S+)\s+(\S+)\s+(\d+)\s+(\S+)\s+0\s+0\n/.exec(section);
      expect(Number(row?.[3] ?? 0)).toBeGreaterThanOrEqual(8);
      expect(Date.parse(row?.[4] ?? '')).toBeGreaterThan(Date.now() + 23 * 3600_000);
      expect(section).toMatch(/\n +\d+ +MCP mcp\.support\.internal tools\/call issue_refund\n/);
      const stored = JSON.parse(await kubectlOk(['get', 'agentbaseline', row?.[1] ?? '', '-n', 'support', '-o', 'json'])) as { status: { operations: { operation: string }[] } };
      expect(stored.status.operations.map((o) => o.operation)).toEqual(expect.arrayContaining(['MCP mcp.support.internal tools/call issue_refund', 'GET api.zendesk.com/api/v2/tickets/{id}']));
    });
  });
});
