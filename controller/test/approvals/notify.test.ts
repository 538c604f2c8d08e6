// The notification webhook: a real HTTP receiver on loopback that fails the
// first attempts; the notifier retries with backoff, delivers once, counts
// what it did, and gives up after its bound.
import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import { WebhookNotifier, type Notification } from '../../src/approvals/notify.js';
import { ApprovalMetrics } from '../../src/approvals/metrics.js';

const servers: Server[] = [];
afterEach(() => { for (const s of servers.splice(0)) s.close(); });

async function receiver(failFirst: number): Promise<{ url: string; bodies: unknown[] }> {
  const bodies: unknown[] = [];
  let calls = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      calls++;
      if (calls <= failFirst) { res.statusCode = 503; res.end(); return; }
      bodies.push(JSON.parse(body));
      res.end('ok');
    });
  });
  servers.push(server);
  await new Promise<void>((r) => { server.listen(0, '127.0.0.1', () => { r(); }); });
  const a = server.address();
  return { url: `http://127.0.0.1:${a !== null && typeof a === 'object' ? a.port : 0}/hook`, bodies };
}

const note: Notification = { text: 'approve me', agentwarden: { request: 'agent-0-abc', namespace: 'support', pod: 'agent-0', operation: 'POST h/mcp', approveCommand: 'agentwarden approve support/agent-0-abc' } };

describe('the notification webhook', () => {
  it('retries a failing receiver with backoff and delivers the Slack-style JSON once', async () => {
    const r = await receiver(2);
    const metrics = new ApprovalMetrics();
    const n = new WebhookNotifier({ url: () => Promise.resolve(r.url), metrics, log: () => undefined, backoff: { initialMs: 10, maxMs: 40 } });
    n.notify(note);
    await n.idle();
    expect(r.bodies).toEqual([note]);
    expect(metrics.notifications.get('retried')).toBe(2);
    expect(metrics.notifications.get('sent')).toBe(1);
  });

  it('gives up after maxAttempts, counted failed, and drops beyond its queue', async () => {
    const r = await receiver(100);
    const metrics = new ApprovalMetrics();
    const n = new WebhookNotifier({ url: () => Promise.resolve(r.url), metrics, log: () => undefined, backoff: { initialMs: 5, maxMs: 10 }, maxAttempts: 3, maxQueue: 1 });
    n.notify(note);
    n.notify(note);
    n.notify(note);
    await n.idle();
    expect(metrics.notifications.get('failed')).toBeGreaterThanOrEqual(1);
    expect(metrics.notifications.get('dropped')).toBeGreaterThanOrEqual(1);
    expect(r.bodies).toEqual([]);
    expect(metrics.render().join('\n')).toContain('agentwarden_approval_notifications_total{outcome="failed"}');
  });
});
