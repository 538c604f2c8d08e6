// `make demo` on the local control plane, checked without a screenshot: the
// decisions table names the rules, the policies report Ready, and Jaeger's
// /api/traces answer holds every decision span.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { JAEGER_OTLP_HTTP, JAEGER_QUERY, ROOT } from './cluster.js';
import { freePort } from './controller-env.js';

function runDemo(args: readonly string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'dist/demo/run.js'), ...args], { cwd: ROOT, timeout: 150_000, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : 1, out: stdout + stderr });
    });
  });
}

describe('make demo', () => {
  it('shows every decision with its rule, Ready policies, and all decision spans in Jaeger', async () => {
    const [listen, admin, distribution] = [await freePort(), await freePort(), await freePort()];
    const { code, out } = await runDemo(['--listen', `127.0.0.1:${listen}`, '--admin', `127.0.0.1:${admin}`, '--distribution', `127.0.0.1:${distribution}`, '--otlp', JAEGER_OTLP_HTTP, '--jaeger', JAEGER_QUERY]);
    expect({ code, tail: out.slice(-1500) }).toMatchObject({ code: 0 });
    expect(out).toMatch(/GET billing\.internal\/v1\/invoices\s+DENY\s+block-billing/);
    expect(out).toMatch(/GET api\.zendesk\.com\/api\/v2\/tickets\/4711\s+ALLOW\s+read-tickets/);
    expect(out).toMatch(/MCP delete_customer .*DENY\s+mcp-no-deletes/);
    expect(out).toMatch(/support-agent\s+Enforce\s+9\s+True\s+True/);
    const calls = /(\d+) calls: \d+ allowed, \d+ denied/.exec(out)?.[1];
    expect(calls).toBeDefined();
    expect(out).toContain(`Jaeger has all ${calls ?? '?'} decision traces`);
  });
});
