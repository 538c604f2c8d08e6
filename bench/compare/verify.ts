// --verify: sends every request of the mix to every engine (the exact framed
// bytes the load runs send) and checks that all of them decide as expected.
import { grpcFrame, RawGrpcClient } from './grpc-raw.js';
import { MIX, type MixEntry } from './mix.js';
import type { EngineName, RunningEngine } from './engines.js';

export interface VerifyRow {
  readonly entry: MixEntry;
  readonly decisions: Readonly<Partial<Record<EngineName, string>>>;
  /** The deciding rule, from the engines whose answer names it. */
  readonly rule: string;
  readonly agree: boolean;
}

/** Calls every engine with every entry; a gRPC error counts as a disagreement. */
export async function verifyMix(engines: readonly RunningEngine[]): Promise<VerifyRow[]> {
  const rows: VerifyRow[] = [];
  const clients = engines.map((e) => new RawGrpcClient(e.grpcAddress));
  try {
    for (const entry of MIX) {
      const decisions: Partial<Record<EngineName, string>> = {};
      let rule = '';
      let ruleOk = true;
      for (const [i, e] of engines.entries()) {
        const r = await clients[i]!.call(e.codec.path, grpcFrame(e.codec.encode(entry)));
        decisions[e.name] = r.grpcStatus === 0 ? e.codec.decision(entry, r.message) : `grpc-${r.grpcStatus}: ${r.grpcMessage.slice(0, 60)}`;
        if (r.grpcStatus === 0 && e.codec.rule !== undefined) {
          rule = e.codec.rule(r.message);
          ruleOk &&= rule === entry.rule;
        }
      }
      rows.push({ entry, decisions, rule, agree: ruleOk && engines.every((e) => decisions[e.name] === entry.expect) });
    }
  } finally {
    for (const c of clients) c.close();
  }
  return rows;
}

export function verifyTable(engines: readonly RunningEngine[], rows: readonly VerifyRow[]): string {
  const lines = [`${'request'.padEnd(15)} ${'class'.padEnd(8)} ${'expect'.padEnd(7)} ${'agentwarden rule'.padEnd(20)} ${engines.map((e) => e.name.padEnd(12)).join(' ')} ok`];
  for (const r of rows) {
    const rule = r.rule === r.entry.rule ? r.rule : `${r.rule} (want ${r.entry.rule})`;
    lines.push(`${r.entry.id.padEnd(15)} ${r.entry.class.padEnd(8)} ${r.entry.expect.padEnd(7)} ${rule.padEnd(20)} ${engines.map((e) => (r.decisions[e.name] ?? '-').padEnd(12)).join(' ')} ${r.agree ? 'yes' : 'NO'}`);
  }
  return lines.join('\n');
}
