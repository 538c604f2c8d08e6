// The Prometheus text exposition format (version 0.0.4), written the same way
// by the sidecar and the controller: each metric family once, with HELP and
// TYPE, then its samples. Hand-rolled on purpose: the programs keep their
// numbers in plain fields and Maps (a decision increments two numbers) and
// build the families only when /metrics is scraped.

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface Sample {
  /** Label names and values; values are escaped here. */
  readonly labels?: Readonly<Record<string, string>>;
  readonly value: number;
  /** Appended to the family's name: "_bucket", "_sum", "_count" of a histogram. */
  readonly suffix?: string;
}

export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly samples: readonly Sample[];
}

/** The content type Prometheus expects for this format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4';

/** A family with one sample without labels: most counters and gauges. */
export function single(name: string, type: 'counter' | 'gauge', help: string, value: number): MetricFamily {
  return { name, type, help, samples: [{ value }] };
}

/** The samples of a cumulative histogram: one _bucket per bound and +Inf, _sum and _count. */
export function histogramSamples(bounds: readonly number[], counts: readonly number[], sum: number, count: number): Sample[] {
  const samples: Sample[] = [];
  let cumulative = 0;
  bounds.forEach((le, i) => {
    cumulative += counts[i] ?? 0;
    samples.push({ suffix: '_bucket', labels: { le: String(le) }, value: cumulative });
  });
  samples.push({ suffix: '_bucket', labels: { le: '+Inf' }, value: count }, { suffix: '_sum', value: sum }, { suffix: '_count', value: count });
  return samples;
}

/** The lines of `families`, without a final newline. */
export function renderLines(families: readonly MetricFamily[]): string[] {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) lines.push(`${f.name}${s.suffix ?? ''}${labelText(s.labels)} ${formatValue(s.value)}`);
  }
  return lines;
}

/** A whole /metrics body. */
export function renderExposition(families: readonly MetricFamily[]): string {
  return `${renderLines(families).join('\n')}\n`;
}

function labelText(labels: Readonly<Record<string, string>> | undefined): string {
  if (labels === undefined) return '';
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** Label values: backslash, double quote and newline escaped. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
