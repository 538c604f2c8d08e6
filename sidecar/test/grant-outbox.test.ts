// What the sidecar tells the controller about approvals and grant uses, over
// the real distribution stream: the sidecar's DistributionClient against a
// grpc-js server on 127.0.0.1 that plays the controller (accepts the hello,
// pushes a snapshot, records every SidecarMessage). The outbox's clock is the
// test's, so the 60 s resend and the per-minute limit are exact.
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Decision, GrantUse } from '../../policy/src/index.js';
import { DistributionClient } from '../src/distribution/client.js';
import { GrantOutbox, type GrantOutboxOptions } from '../src/distribution/grant-outbox.js';
import { FakeController } from './fake-controller.js';

interface Sidecar {
  readonly client: DistributionClient;
  readonly outbox: GrantOutbox;
  /** The outbox's clock, ms. */
  now: number;
  /** What GrantLedger.drainUsed() answers next. */
  uses: GrantUse[];
  /** Resolves when the stream is accepted (first snapshot). */
  readonly up: Promise<void>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startController(): Promise<FakeController> {
  const c = await FakeController.start();
  cleanups.push(() => { c.stop(); });
  return c;
}

function startSidecar(address: string, options: Partial<GrantOutboxOptions> = {}): Sidecar {
  const dir = mkdtempSync(join(tmpdir(), 'agentwarden-outbox-'));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'header.payload.signature');
  let markUp: () => void = () => undefined;
  const up = new Promise<void>((resolve) => { markUp = resolve; });
  const late: { outbox?: GrantOutbox } = {};
  const client = new DistributionClient({
    address, tokenFile, namespace: 'support', podName: 'support-agent-0', caFile: undefined, sidecarVersion: 'test',
    log: { log: () => undefined }, install: () => undefined, currentVersion: () => '',
    onStreamUp: () => { late.outbox?.streamUp(); markUp(); },
  });
  const sidecar: Sidecar = { client, outbox: undefined as unknown as GrantOutbox, now: 1_800_000_000_000, uses: [], up };
  const outbox = new GrantOutbox({
    send: (m) => client.send(m),
    drainUsed: () => sidecar.uses.splice(0),
    clock: () => sidecar.now,
  }, options);
  late.outbox = outbox;
  (sidecar as { outbox: GrantOutbox }).outbox = outbox;
  client.start();
  cleanups.push(async () => { await client.stop(); rmSync(dir, { recursive: true, force: true }); });
  return sidecar;
}

function needsApproval(name: string): Decision {
  return {
    allowed: false, mode: 'Enforce', policy: 'support', rule: 'refunds', reason: 'approval required', auditDecision: null, headers: [],
    request: { method: 'POST', host: 'mcp.support.internal', port: 80, path: '/mcp', mcpMethod: 'tools/call', mcpTool: 'issue_refund', mcpId: 1 },
    approval: {
      name,
      operation: { method: 'POST', host: 'mcp.support.internal', port: 80, path: '/mcp', query: 'x=1', mcp: { method: 'tools/call', tool: 'issue_refund', arguments: { order: 'o-1', amount: 120 } } },
    },
  };
}

/** A deny noted by the outbox at the sidecar's current clock, sent before this returns. */
function deny(s: Sidecar, name: string): void {
  s.outbox.approvalNeeded(needsApproval(name), `decision-${name}`);
  s.outbox.flush();
}

function names(c: FakeController): string[] {
  return c.of('approvalNeeded').map((m) => (m.kind.case === 'approvalNeeded' ? m.kind.value.name : ''));
}

describe('ApprovalNeeded', () => {
  it('carries the request name, the rule, the operation with canonical MCP arguments, and the decision id', async () => {
    const controller = await startController();
    const s = startSidecar(controller.address);
    await s.up;
    deny(s, 'support-agent-0-3f2a9c1b0e4d');
    await controller.until('approvalNeeded', 1);
    const [m] = controller.of('approvalNeeded');
    if (m?.kind.case !== 'approvalNeeded') throw new Error('no ApprovalNeeded');
    expect(m.kind.value).toMatchObject({
      name: 'support-agent-0-3f2a9c1b0e4d', policy: 'support', rule: 'refunds', decisionId: 'decision-support-agent-0-3f2a9c1b0e4d',
      operation: { method: 'POST', host: 'mcp.support.internal', port: 80, path: '/mcp', query: 'x=1', mcpMethod: 'tools/call', mcpTool: 'issue_refund', mcpArguments: '{"amount":120,"order":"o-1"}' },
    });
    expect(s.outbox.counters.approvalNeededSent).toBe(1);
  });

  it('is sent once per name, and again after 60 s while the agent is still denied', async () => {
    const controller = await startController();
    const s = startSidecar(controller.address);
    await s.up;
    deny(s, 'a');
    s.now += 59_999;
    deny(s, 'a');
    deny(s, 'b');
    s.now += 1;
    deny(s, 'a');
    await controller.until('approvalNeeded', 3);
    expect(names(controller)).toEqual(['a', 'b', 'a']);
  });

  it('is sent at most 30 times a minute; the rest are dropped and counted', async () => {
    const controller = await startController();
    const s = startSidecar(controller.address);
    await s.up;
    for (let i = 0; i < 35; i++) {
      deny(s, `flood-${i}`);
      s.now += 1000;
    }
    // 35 s in: 30 went out, 5 were refused. A minute after the first, there is room again.
    expect(s.outbox.counters).toMatchObject({ approvalNeededSent: 30, approvalNeededDroppedRateLimit: 5 });
    s.now = 1_800_000_000_000 + 60_000;
    deny(s, 'flood-30');
    await controller.until('approvalNeeded', 31);
    expect(names(controller).at(-1)).toBe('flood-30');
    expect(controller.of('approvalNeeded')).toHaveLength(31);
  });

  it('forgets the least recently sent name beyond the bound, and sends it again', async () => {
    const controller = await startController();
    const s = startSidecar(controller.address, { maxNames: 2 });
    await s.up;
    for (const name of ['a', 'b', 'a', 'c', 'a', 'b']) deny(s, name);
    await controller.until('approvalNeeded', 5);
    // a and b sent; a again suppressed; c pushes a out; so a is sent again (pushing b out), and b too.
    expect(names(controller)).toEqual(['a', 'b', 'c', 'a', 'b']);
  });

  it('is dropped and counted while the stream is down, and sent by the next deny once it is up', async () => {
    const controller = await startController();
    const port = Number(controller.address.split(':')[1]);
    controller.stop();
    const s = startSidecar(controller.address);
    deny(s, 'a');
    expect(s.outbox.counters).toMatchObject({ approvalNeededSent: 0, approvalNeededDroppedStreamDown: 1 });
    const again = await FakeController.startOn(port);
    cleanups.push(() => { again.stop(); });
    await s.up;
    deny(s, 'a');
    await again.until('approvalNeeded', 1);
    expect(names(again)).toEqual(['a']);
  });
});

describe('GrantUsed', () => {
  it('reports the ledger\'s count after a use, without waiting for anything', async () => {
    const controller = await startController();
    const s = startSidecar(controller.address);
    await s.up;
    s.uses.push({ name: 'support-agent-0-3f2a9c1b0e4d', uid: 'uid-1', used: 1 });
    s.outbox.grantUsed();
    await controller.until('grantUsed', 1);
    const [m] = controller.of('grantUsed');
    expect(m?.kind.value).toMatchObject({ name: 'support-agent-0-3f2a9c1b0e4d', uid: 'uid-1', used: 1 });
    expect(s.outbox.counters).toMatchObject({ grantUses: 1, grantUsedSent: 1, grantUsedDropped: 0 });
  });

  it('keeps the latest count of each grant while the stream is down and sends it when the stream is up', async () => {
    const controller = await startController();
    const port = Number(controller.address.split(':')[1]);
    controller.stop();
    const s = startSidecar(controller.address, { maxPendingGrants: 2 });
    s.uses.push({ name: 'g1', uid: 'u1', used: 1 }, { name: 'g1', uid: 'u1', used: 2 }, { name: 'g2', uid: 'u2', used: 1 }, { name: 'g3', uid: 'u3', used: 1 });
    s.outbox.grantUsed();
    s.outbox.flush();
    // Two grants wait; the third is over the bound.
    expect(s.outbox.counters).toMatchObject({ grantUses: 4, grantUsedSent: 0, grantUsedDropped: 1 });
    const again = await FakeController.startOn(port);
    cleanups.push(() => { again.stop(); });
    await s.up;
    await again.until('grantUsed', 2);
    expect(again.of('grantUsed').map((m) => m.kind.value)).toEqual([
      expect.objectContaining({ name: 'g1', uid: 'u1', used: 2 }),
      expect.objectContaining({ name: 'g2', uid: 'u2', used: 1 }),
    ]);
  });
});
