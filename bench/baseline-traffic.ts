// make bench-baselines: what behaviour baselines cost the controller in
// traffic (issue 17). One sidecar's OperationSummary is built by the real
// code (the policy core's AnomalyDetector fed with operations, drained into
// sidecar/src/anomaly/summaries.ts's message) and encoded; the controller
// receives one per sidecar per --anomaly-summary-interval. Printed for an
// agent with a typical working set, for one at the summary's bounds, and for
// 1,000 sidecars of each.
import { toBinary } from '@bufbuild/protobuf';
import { SidecarMessageSchema } from '../proto/gen/agentwarden/v1/distribution_pb.js';
import { AnomalyDetector, DEFAULT_MAX_SUMMARY_OPERATIONS, type LoadedAnomaly } from '../policy/src/index.js';
import { MAX_FINGERPRINT_LENGTH } from '../policy/src/fingerprint.js';
import { DEFAULT_MAX_SUMMARY_ANOMALIES, summaryMessage } from '../sidecar/src/anomaly/summaries.js';

const SIDECARS = 1000;
const INTERVAL_S = 30;
/** gRPC message prefix (5 bytes) and the HTTP/2 DATA frame header (9 bytes) around each message. */
const FRAMING = 5 + 9;
const T0 = Date.UTC(2026, 11, 6);

const CONFIG: LoadedAnomaly = {
  policy: 'bench', audit: false, learnForMs: 86_400_000, novel: 'Alert', spikeFactor: 5, spikeOverMs: 60_000, spike: 'Alert',
  quarantineAnomalies: 0, quarantineWithinMs: 0, baseline: undefined, quarantine: undefined,
};

interface Case { readonly name: string; readonly operations: number; readonly fingerprint: (i: number) => string; readonly anomalies: number }

const CASES: readonly Case[] = [
  // 40 distinct operations in 30 s, fingerprints like "GET api.zendesk.com/api/v2/tickets/{id}".
  { name: 'typical', operations: 40, fingerprint: (i) => `GET api${i % 4}.example.com/api/v2/resource${i}/{id}`, anomalies: 0 },
  // Every bound reached: the most operations a summary carries, each fingerprint at its longest, the most anomalies.
  { name: 'bound', operations: DEFAULT_MAX_SUMMARY_OPERATIONS, fingerprint: (i) => `GET h.example.com/${String(i).padStart(6, '0')}/${'x'.repeat(MAX_FINGERPRINT_LENGTH)}`.slice(0, MAX_FINGERPRINT_LENGTH), anomalies: DEFAULT_MAX_SUMMARY_ANOMALIES },
];

for (const c of CASES) {
  const detector = new AnomalyDetector();
  // Each operation called a few times over the interval, one rate window closing.
  for (let i = 0; i < c.operations; i++) for (let n = 0; n < 3; n++) detector.observe(CONFIG, c.fingerprint(i), T0 + i * 10 + n);
  detector.observe(CONFIG, c.fingerprint(0), T0 + 61_000);
  const anomalies = Array.from({ length: c.anomalies }, (_, i) => ({
    $typeName: 'agentwarden.v1.AnomalyEvent' as const, kind: 'novel-operation', operation: c.fingerprint(i), atMs: BigInt(T0 + i), action: 'Alert', decisionId: '4bf92f3577b34da6a3ce929d0e0e4736',
  }));
  const message = summaryMessage(detector.drain(T0 + INTERVAL_S * 1000), anomalies, 0);
  const bytes = toBinary(SidecarMessageSchema, message).length + FRAMING;
  const perSecond = (bytes * SIDECARS) / INTERVAL_S;
  console.log(`bench: baseline_summary_${c.name} operations=${c.operations} anomalies=${c.anomalies} bytes=${bytes} sidecars=${SIDECARS} interval_s=${INTERVAL_S} controller_kib_per_s=${(perSecond / 1024).toFixed(1)} messages_per_s=${(SIDECARS / INTERVAL_S).toFixed(1)}`);
}
