// The chart's monitoring half, rendered as users get it (`helm template` with dashboards,
// monitors and alerts on), for the Prometheus tests: the PrometheusRule's rules, the
// dashboards' JSON from their ConfigMaps, every PromQL query a panel runs (Grafana's
// variables substituted), and a structural check of the Grafana dashboard model.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { BIN, ROOT } from './cluster.js';

export const CHART = join(ROOT, 'helm/agentwarden');
export const MONITORING_VALUES = ['dashboards', 'serviceMonitor', 'podMonitor', 'prometheusRule'].flatMap((k) => ['--set', `monitoring.${k}.enabled=true`]);

export interface Rule { readonly alert?: string; readonly record?: string; readonly expr: string; readonly for?: string; readonly labels?: Record<string, string>; readonly annotations?: Record<string, string> }
export interface RuleGroup { readonly name: string; readonly rules: readonly Rule[] }
export interface Target { readonly refId: string; readonly expr?: string; readonly datasource?: { readonly type?: string; readonly uid?: string } }
export interface DataLink { readonly title: string; readonly url: string }
export interface Panel {
  readonly id: number; readonly type: string; readonly title: string; readonly gridPos: { x: number; y: number; w: number; h: number };
  readonly datasource?: { type?: string; uid?: string }; readonly targets?: readonly Target[];
  readonly fieldConfig?: { readonly overrides?: readonly { readonly properties: readonly { readonly id: string; readonly value: readonly DataLink[] }[] }[] };
}
export interface Dashboard { readonly uid: string; readonly title: string; readonly panels: readonly Panel[]; readonly templating: { readonly list: readonly { name: string; type: string; query?: unknown }[] } }

export interface RenderedMonitoring {
  /** kind -> names of the objects rendered. */
  readonly objects: ReadonlyMap<string, readonly string[]>;
  readonly groups: readonly RuleGroup[];
  /** ConfigMap data key (file name) -> the dashboard as parsed from the ConfigMap. */
  readonly dashboards: ReadonlyMap<string, Dashboard>;
  /** The ConfigMaps' labels, by ConfigMap name. */
  readonly dashboardLabels: ReadonlyMap<string, Record<string, string>>;
}

export function helmTemplate(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(join(BIN, 'helm'), ['template', 'aw', CHART, '-n', 'agentwarden-system', ...args], { maxBuffer: 32 << 20 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`helm template failed: ${stderr}`)); else resolve(stdout);
    });
  });
}

interface K8sObject { kind: string; metadata: { name: string; labels?: Record<string, string> }; spec?: { groups?: RuleGroup[] }; data?: Record<string, string> }

export async function renderMonitoring(extra: readonly string[] = []): Promise<RenderedMonitoring> {
  const out = await helmTemplate([...MONITORING_VALUES, ...extra]);
  const docs = parseAllDocuments(out).map((d) => d.toJS() as K8sObject | null).filter((d): d is K8sObject => d !== null);
  const objects = new Map<string, string[]>();
  for (const d of docs) objects.set(d.kind, [...(objects.get(d.kind) ?? []), d.metadata.name]);
  const groups = docs.filter((d) => d.kind === 'PrometheusRule').flatMap((d) => d.spec?.groups ?? []);
  const dashboards = new Map<string, Dashboard>();
  const dashboardLabels = new Map<string, Record<string, string>>();
  for (const d of docs) {
    if (d.kind !== 'ConfigMap' || d.metadata.labels?.['grafana_dashboard'] === undefined) continue;
    dashboardLabels.set(d.metadata.name, d.metadata.labels);
    for (const [file, text] of Object.entries(d.data ?? {})) {
      try {
        dashboards.set(file, JSON.parse(text) as Dashboard);
      } catch (e: unknown) {
        throw new Error(`ConfigMap ${d.metadata.name} key ${file}: not JSON: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
    }
  }
  return { objects, groups, dashboards, dashboardLabels };
}

/** Grafana's variables as a query against "everything" would have them: all namespaces, 1m rate windows, a 10m range. */
export function substituteGrafanaVariables(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '15s')
    .replaceAll('$__range', '10m')
    .replaceAll('$namespace', '.*');
}

export interface PanelQuery { readonly dashboard: string; readonly panel: string; readonly refId: string; readonly expr: string }

/** Every PromQL query of every panel (rows have none), variables substituted. */
export function panelQueries(file: string, d: Dashboard): PanelQuery[] {
  return d.panels.filter((p) => p.type !== 'row').flatMap((p) => (p.targets ?? []).map((t) => ({ dashboard: file, panel: p.title, refId: t.refId, expr: substituteGrafanaVariables(t.expr ?? '') })));
}

const PANEL_TYPES = new Set(['row', 'timeseries', 'stat', 'table', 'gauge', 'bargauge', 'text', 'heatmap', 'piechart']);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/**
 * What is wrong with `d` as a Grafana dashboard (JSON model, schemaVersion 39): empty when nothing.
 * Checks the fields Grafana needs to load it: uid, title, schemaVersion, templating with a Prometheus
 * datasource variable, and per panel a unique id, a known type, a title, a gridPos inside the
 * 24-column grid not overlapping another panel, and (but rows) a Prometheus datasource naming that
 * variable and targets with a unique refId and a PromQL expr.
 */
export function dashboardProblems(file: string, d: unknown): string[] {
  const problems: string[] = [];
  const bad = (msg: string): void => { problems.push(`${file}: ${msg}`); };
  if (!isObject(d)) return [`${file}: not a JSON object`];
  if (typeof d['uid'] !== 'string' || !/^[a-zA-Z0-9_-]{1,40}$/.test(d['uid'])) bad('uid: want 1-40 of [a-zA-Z0-9_-]');
  if (typeof d['title'] !== 'string' || d['title'] === '') bad('title: want a non-empty string');
  if (!isInt(d['schemaVersion']) || d['schemaVersion'] < 30) bad('schemaVersion: want an integer >= 30');
  const templating = d['templating'];
  const vars = isObject(templating) && Array.isArray(templating['list']) ? (templating['list'] as unknown[]) : undefined;
  if (vars === undefined) bad('templating.list: want an array');
  const dsVar = vars?.find((v) => isObject(v) && v['type'] === 'datasource' && v['query'] === 'prometheus');
  if (!isObject(dsVar) || typeof dsVar['name'] !== 'string') {
    bad('templating.list: want a datasource variable of query "prometheus"');
    return problems;
  }
  const dsUid = `\${${dsVar['name']}}`;
  for (const v of vars ?? []) {
    if (!isObject(v) || typeof v['name'] !== 'string' || typeof v['type'] !== 'string') bad(`templating.list: ${JSON.stringify(v)}: want name and type`);
  }
  const panels = d['panels'];
  if (!Array.isArray(panels) || panels.length === 0) {
    bad('panels: want a non-empty array');
    return problems;
  }
  const ids = new Set<number>();
  const boxes: { title: string; x: number; y: number; w: number; h: number }[] = [];
  for (const [i, p] of (panels as unknown[]).entries()) {
    const where = `panels[${i}]`;
    if (!isObject(p)) { bad(`${where}: not an object`); continue; }
    const title = typeof p['title'] === 'string' ? p['title'] : '';
    if (title === '') bad(`${where}.title: want a non-empty string`);
    if (!isInt(p['id']) || ids.has(p['id'])) bad(`${where} (${title}).id: want a unique integer`); else ids.add(p['id']);
    if (typeof p['type'] !== 'string' || !PANEL_TYPES.has(p['type'])) bad(`${where} (${title}).type: ${String(p['type'])} is not one of ${[...PANEL_TYPES].join(', ')}`);
    const g = p['gridPos'];
    if (!isObject(g) || ![g['x'], g['y'], g['w'], g['h']].every(isInt)) { bad(`${where} (${title}).gridPos: want integers x, y, w, h`); continue; }
    const box = { title, x: g['x'] as number, y: g['y'] as number, w: g['w'] as number, h: g['h'] as number };
    if (box.x < 0 || box.y < 0 || box.w < 1 || box.h < 1 || box.x + box.w > 24) bad(`${where} (${title}).gridPos: ${JSON.stringify(g)} is outside the 24-column grid`);
    const overlap = boxes.find((b) => box.x < b.x + b.w && b.x < box.x + box.w && box.y < b.y + b.h && b.y < box.y + box.h);
    if (overlap !== undefined) bad(`${where} (${title}).gridPos overlaps "${overlap.title}"`);
    boxes.push(box);
    if (p['type'] === 'row') continue;
    const ds = p['datasource'];
    if (!isObject(ds) || ds['type'] !== 'prometheus' || ds['uid'] !== dsUid) bad(`${where} (${title}).datasource: want {type: prometheus, uid: ${dsUid}}`);
    const targets = p['targets'];
    if (!Array.isArray(targets) || targets.length === 0) { bad(`${where} (${title}).targets: want a non-empty array`); continue; }
    const refIds = new Set<string>();
    for (const [j, t] of (targets as unknown[]).entries()) {
      if (!isObject(t)) { bad(`${where} (${title}).targets[${j}]: not an object`); continue; }
      if (typeof t['refId'] !== 'string' || refIds.has(t['refId'])) bad(`${where} (${title}).targets[${j}].refId: want a unique string`); else refIds.add(t['refId']);
      if (typeof t['expr'] !== 'string' || t['expr'].trim() === '') bad(`${where} (${title}).targets[${j}].expr: want PromQL`);
    }
  }
  return problems;
}
