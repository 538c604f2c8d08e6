// The sidecar's Check handler, alone, on the bench mix: what
// bench/instructions/main.ts runs under valgrind. Decode, decide, the answer's
// bytes and, when OTEL_EXPORTER_OTLP_ENDPOINT is set, the audit span encoded
// into its batch and exported over OTLP http/protobuf, as the sidecar does
// (a setImmediate turn every 64 checks, where the sidecar hands decided spans
// over after writing the answers).
//   AGENTWARDEN_BENCH_CHECKS=n node dist/bench/instructions/handler-loop.js
import { benchSnapshot, mixRequests } from '../impls/pairs.js';
import { PolicyState } from '../../sidecar/src/state.js';
import { SidecarMetrics } from '../../sidecar/src/metrics.js';
import { createAuditTracer } from '../../sidecar/src/telemetry/tracing.js';
import { createCheckHandler } from '../../sidecar/src/authz/handler.js';

/** A fixed clock: the same decisions (rate limits, schedules) whatever the run's speed. */
const NOW_MS = Date.UTC(2026, 10, 29, 14, 13);
const PER_TURN = 64;

async function main(): Promise<void> {
  const checks = Number(process.env['AGENTWARDEN_BENCH_CHECKS'] ?? '');
  if (!Number.isInteger(checks) || checks <= 0) throw new Error('handler-loop: AGENTWARDEN_BENCH_CHECKS must be a positive integer');
  const state = new PolicyState({ maxSessions: 10_000, maxTaintsPerSession: 64 }, { maxOperations: 1000, summaries: false });
  state.install(benchSnapshot());
  const exportOn = process.env['OTEL_EXPORTER_OTLP_ENDPOINT'] !== undefined;
  const tracer = await createAuditTracer({ protocol: exportOn ? 'http/protobuf' : undefined, resource: { 'service.name': 'agentwarden-sidecar' }, maxQueue: 8192, batchSize: 512, delayMs: 1000 });
  const handle = createCheckHandler({
    state, metrics: new SidecarMetrics(), tracer, log: { log: () => undefined }, maxRequestBytes: 1 << 20,
    pod: { namespace: 'bench', name: 'agent-0' }, clock: () => NOW_MS,
  });
  const requests = mixRequests();
  for (let i = 0; i < checks; i += PER_TURN) {
    for (let j = i; j < Math.min(checks, i + PER_TURN); j++) handle(requests[j % requests.length] ?? new Uint8Array());
    await new Promise((resolve) => setImmediate(resolve));
  }
  await tracer.forceFlush();
  const { exported, dropped } = tracer.counters;
  process.stdout.write(`handler-loop: ${checks} checks, spans exported ${exported}, dropped ${dropped}\n`);
  await tracer.shutdown();
}

main().then(() => process.exit(0), (e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
