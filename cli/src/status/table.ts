// `agentwarden status`'s table (pure): one line per connected pod.
import type { SynczReport } from '../../../common/syncz.js';
import { span } from '../access/requests.js';

const HEADER = ['NAMESPACE', 'POD', 'STATE', 'VERSION', 'DESIRED', 'AGE', 'STREAMS', 'ERROR'] as const;

/** Versions are content hashes (sha256:…): the first 12 hex digits tell them apart. */
function short(version: string): string {
  return version === '' ? '<none>' : version.replace(/^sha256:/, '').slice(0, 12);
}

export function statusTable(report: SynczReport, namespace: string | undefined, nowMs: number): string[] {
  const pods = report.pods.filter((p) => namespace === undefined || p.namespace === namespace);
  const lines: string[] = [];
  // A controller older than replica reports: only its leader held the streams.
  if (!report.controller.leader && report.replicas === undefined) lines.push(`controller ${report.controller.identity} is not the leader: only the leader holds the sidecars' streams; ask again (the Service picks a replica)`);
  if (pods.length === 0) {
    lines.push(`No sidecars connected to controller ${report.controller.identity}${namespace === undefined ? '' : ` in namespace ${namespace}`}.`);
    return lines;
  }
  // Pods of other replicas (from their reports): which replica serves each.
  const withReplica = pods.some((p) => p.replica !== undefined);
  const header: readonly string[] = withReplica ? [...HEADER.slice(0, -1), 'REPLICA', 'ERROR'] : HEADER;
  const rows = pods.map((p) => [p.namespace, p.pod, p.state, short(p.acked), short(p.desired), age(p.lastChange, nowMs), String(p.streams), ...(withReplica ? [p.replica ?? report.controller.identity] : []), p.nackError ?? '']);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('   ').trimEnd();
  return [...lines, line(header), ...rows.map(line)];
}

function age(at: string, nowMs: number): string {
  const ms = Date.parse(at);
  return Number.isNaN(ms) ? '<unknown>' : span(Math.max(0, nowMs - ms));
}
