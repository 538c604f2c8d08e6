// The chart's monitoring objects without a cluster (issue 19): what `helm template` renders with
// monitoring on and off, the dashboards against the Grafana model, every alert's runbook in the
// README, and `promtool test rules` over e2e/monitoring/alerts.test.yaml (every alert tested).
// Needs .cache/bin/helm and .cache/bin/promtool (`make e2e-tools`); `make test-alerts` runs it alone.
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { BIN, ROOT } from './cluster.js';
import { dashboardProblems, helmTemplate, renderMonitoring, type Dashboard } from './monitoring.js';

const TESTS = join(ROOT, 'e2e/monitoring/alerts.test.yaml');

function promtool(args: readonly string[], cwd: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(join(BIN, 'promtool'), args, { cwd, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, out: `${stdout}${stderr}` });
    });
  });
}

describe('helm template with monitoring', () => {
  it('renders nothing of it by default, and with monitoring.*.enabled a ServiceMonitor, a PodMonitor, a PrometheusRule and two dashboard ConfigMaps labelled grafana_dashboard', async () => {
    const off = await helmTemplate([]);
    expect(off).not.toMatch(/kind: (ServiceMonitor|PodMonitor|PrometheusRule)/);
    expect(off).not.toContain('grafana_dashboard');
    const on = await renderMonitoring();
    expect(on.objects.get('ServiceMonitor')).toEqual(['aw-agentwarden-controller']);
    expect(on.objects.get('PodMonitor')).toEqual(['aw-agentwarden-sidecars']);
    expect(on.objects.get('PrometheusRule')).toEqual(['aw-agentwarden']);
    expect([...on.dashboards.keys()].sort()).toEqual(['agentwarden-decisions.json', 'agentwarden-operations.json']);
    for (const labels of on.dashboardLabels.values()) expect(labels['grafana_dashboard']).toBe('1');
  });

  it('renders dashboards that are valid Grafana dashboard models, and the check finds what a broken one lacks', async () => {
    const { dashboards } = await renderMonitoring();
    for (const [file, d] of dashboards) expect(dashboardProblems(file, d)).toEqual([]);
    const d = JSON.parse(JSON.stringify(dashboards.get('agentwarden-decisions.json'))) as { panels: { gridPos: unknown; targets?: { expr?: string }[]; id: number }[] };
    d.panels[2]!.gridPos = d.panels[1]!.gridPos;
    delete d.panels[3]!.targets![0]!.expr;
    d.panels[4]!.id = d.panels[1]!.id;
    expect(dashboardProblems('broken.json', d)).toEqual([
      expect.stringContaining('panels[2] (Deny ratio).gridPos overlaps "Decisions per second"'),
      expect.stringContaining('panels[3] (Deny ratio by namespace).targets[0].expr: want PromQL'),
      expect.stringContaining('panels[4] (Decisions by namespace).id: want a unique integer'),
    ]);
  });

  it('links the top denied rules to their traces in Jaeger and Tempo, through datasource variables', async () => {
    const d = (await renderMonitoring()).dashboards.get('agentwarden-decisions.json') as Dashboard;
    expect(d.templating.list.filter((v) => v.type === 'datasource').map((v) => [v.name, v.query])).toEqual([['datasource', 'prometheus'], ['jaeger', 'jaeger'], ['tempo', 'tempo']]);
    const table = d.panels.find((p) => p.title.startsWith('Top denied rules'));
    const links = table?.fieldConfig?.overrides?.flatMap((o) => o.properties.filter((p) => p.id === 'links').flatMap((p) => p.value)) ?? [];
    expect(links.map((l) => l.title)).toEqual(['Traces of this rule in Jaeger', 'Traces of this rule in Tempo']);
    expect(links[0]?.url).toContain('"uid":"${jaeger}"');
    expect(links[0]?.url).toContain('agentwarden.rule=${__data.fields.rule}');
    expect(links[1]?.url).toContain('span.agentwarden.rule = \\"${__data.fields.rule}\\"');
  });
});

describe('the alerts', () => {
  it('each have a severity, a summary and a runbook_url whose anchor is a heading of the README', async () => {
    const { groups } = await renderMonitoring();
    const alerts = groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined);
    expect(alerts.length).toBeGreaterThanOrEqual(8);
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const anchors = new Set([...readme.matchAll(/^#{2,6} (.+)$/gm)].map((m) => (m[1] ?? '').trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-')));
    for (const a of alerts) {
      expect({ alert: a.alert, severity: a.labels?.['severity'] }).toEqual({ alert: a.alert, severity: expect.stringMatching(/^(warning|critical)$/) as unknown });
      expect(a.annotations?.['summary']).toBeTruthy();
      const url = a.annotations?.['runbook_url'] ?? '';
      expect(url).toMatch(/^https:\/\/github\.com\/agentwarden\/agentwarden\/blob\/main\/README\.md#[a-z0-9-]+$/);
      expect({ alert: a.alert, anchorInReadme: anchors.has(url.split('#')[1] ?? '') }).toEqual({ alert: a.alert, anchorInReadme: true });
    }
  });

  it('pass promtool check rules and promtool test rules (e2e/monitoring/alerts.test.yaml), which tests every alert', async () => {
    const { groups } = await renderMonitoring();
    const dir = mkdtempSync(join(tmpdir(), 'aw-promtool-'));
    writeFileSync(join(dir, 'agentwarden-rules.yaml'), JSON.stringify({ groups }, null, 2));
    copyFileSync(TESTS, join(dir, 'alerts.test.yaml'));
    const check = await promtool(['check', 'rules', 'agentwarden-rules.yaml'], dir);
    expect(check.out).toContain('SUCCESS');
    expect(check.code).toBe(0);
    const test = await promtool(['test', 'rules', 'alerts.test.yaml'], dir);
    expect(test.out).toContain('SUCCESS');
    expect(test.code).toBe(0);

    const tested = new Set((parse(readFileSync(TESTS, 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] }).tests
      .flatMap((t) => t.alert_rule_test ?? []).filter((t) => t.exp_alerts.length > 0).map((t) => t.alertname));
    const alerts = groups.flatMap((g) => g.rules).flatMap((r) => (r.alert === undefined ? [] : [r.alert]));
    expect(alerts.filter((a) => !tested.has(a))).toEqual([]);
  });

  it('fail promtool test rules when an alert\'s threshold changes (the tests pin the values of the chart)', async () => {
    const { groups } = await renderMonitoring(['--set', 'monitoring.prometheusRule.notSyncedFor=30m']);
    const dir = mkdtempSync(join(tmpdir(), 'aw-promtool-'));
    writeFileSync(join(dir, 'agentwarden-rules.yaml'), JSON.stringify({ groups }, null, 2));
    copyFileSync(TESTS, join(dir, 'alerts.test.yaml'));
    const test = await promtool(['test', 'rules', 'alerts.test.yaml'], dir);
    expect(test.code).not.toBe(0);
    expect(test.out).toContain('AgentwardenPodsNotSynced');
  });
});
