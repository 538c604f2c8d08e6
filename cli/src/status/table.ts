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
  if (!report.controller.leader) lines.push(`controller ${report.controller.identity} is not the leader: only the leader holds the sidecars' streams; ask again (the Service picks a replica)`);
  if (pods.length === 0) {
    lines.push(`No sidecars connected to controller ${report.controller.identity}${namespace === undefined ? '' : ` in namespace ${namespace}`}.`);
    return lines;
  }
  const rows = pods.map((p) => [p.namespace, p.pod, p.state, short(p.acked), short(p.desired), age(p.lastChange, nowMs), String(p.streams), p.nackError ?? '']);
  const widths = HEADER.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('   ').trimEnd();
  return [...lines, line(HEADER), ...rows.map(line)];
}

function age(at: string, nowMs: number): string {
  const ms = Date.parse(at);
  return Number.isNaN(ms) ? '<unknown>' : span(Math.max(0, nowMs - ms));
}
