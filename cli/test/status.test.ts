// `agentwarden status`'s table and its reading of the controller's answer (pure parts).
import { statusTable } from '../src/status/table.js';
import { parseReport, proxyPath } from '../src/status/fetch.js';
import type { SynczReport } from '../../common/syncz.js';

const NOW = Date.parse('2026-12-06T10:05:00Z');
const REPORT: SynczReport = {
  controller: { identity: 'agentwarden-controller-7d9f', leader: true },
  generatedAt: '2026-12-06T10:05:00Z',
  pods: [
    { namespace: 'support', pod: 'agent-0', state: 'SYNCED', acked: `sha256:${'a'.repeat(64)}`, sent: `sha256:${'a'.repeat(64)}`, desired: `sha256:${'a'.repeat(64)}`, nackError: null, lastChange: '2026-12-06T10:04:18Z', connectedAt: '2026-12-06T10:00:00Z', streams: 1 },
    { namespace: 'billing', pod: 'agent-1', state: 'NACKED', acked: `sha256:${'b'.repeat(64)}`, sent: `sha256:${'c'.repeat(64)}`, desired: `sha256:${'c'.repeat(64)}`, nackError: 'snapshot carries credentials on a TCP listener', lastChange: '2026-12-06T09:02:00Z', connectedAt: '2026-12-06T09:00:00Z', streams: 1 },
  ],
};

describe('statusTable', () => {
  it('prints one line per pod: state, the version it runs and the one compiled for it (12 hex digits), age and the NACK error', () => {
    expect(statusTable(REPORT, undefined, NOW)).toEqual([
      'NAMESPACE   POD       STATE    VERSION        DESIRED        AGE    STREAMS   ERROR',
      'support     agent-0   SYNCED   aaaaaaaaaaaa   aaaaaaaaaaaa   42s    1',
      'billing     agent-1   NACKED   bbbbbbbbbbbb   cccccccccccc   1h3m   1         snapshot carries credentials on a TCP listener',
    ]);
  });

  it('filters by namespace, says when none is connected, and warns when a non-leader answered', () => {
    expect(statusTable(REPORT, 'support', NOW)).toHaveLength(2);
    expect(statusTable({ ...REPORT, controller: { identity: 'c-1', leader: false }, pods: [] }, 'x', NOW)).toEqual([
      'controller c-1 is not the leader: only the leader holds the sidecars\' streams; ask again (the Service picks a replica)',
      'No sidecars connected to controller c-1 in namespace x.',
    ]);
  });
});

describe('statusTable with several controller replicas', () => {
  it('adds a REPLICA column naming the replica serving each pod, and no leader warning (every replica serves)', () => {
    const pods = REPORT.pods[0] === undefined ? [] : [REPORT.pods[0], { ...REPORT.pods[0], pod: 'agent-2', acked: '', desired: '', replica: 'ctl-b' }];
    const lines = statusTable({ ...REPORT, controller: { identity: 'ctl-a', leader: false }, pods, replicas: [{ identity: 'ctl-b', renewedAt: '2026-12-06T10:04:18Z', pods: 1 }] }, undefined, NOW);
    expect(lines).toEqual([
      'NAMESPACE   POD       STATE    VERSION        DESIRED        AGE   STREAMS   REPLICA   ERROR',
      'support     agent-0   SYNCED   aaaaaaaaaaaa   aaaaaaaaaaaa   42s   1         ctl-a',
      'support     agent-2   SYNCED   <none>         <none>         42s   1         ctl-b',
    ]);
  });

  it('reads the replicas and each pod\'s replica back', () => {
    const report: SynczReport = { ...REPORT, pods: [{ ...REPORT.pods[0]!, replica: 'ctl-b' }], replicas: [{ identity: 'ctl-b', renewedAt: 't', pods: 1 }] };
    expect(parseReport(JSON.stringify(report), 'x')).toEqual(report);
    expect(() => parseReport(JSON.stringify({ ...report, replicas: [{ identity: 'b' }] }), 'src')).toThrow('src: replicas[0] missing or not of the expected type');
  });
});

describe('parseReport', () => {
  it('reads the controller\'s JSON back as it was written', () => {
    expect(parseReport(JSON.stringify(REPORT), 'x')).toEqual(REPORT);
  });

  it('names the field that is missing or of the wrong type', () => {
    expect(() => parseReport('{"controller":{"identity":"c","leader":true},"generatedAt":"t","pods":[{"namespace":"a","state":"SYNCED"}]}', 'http://c/debug/syncz')).toThrow('http://c/debug/syncz: pods[0].pod missing or not of the expected type');
    expect(() => parseReport('<html>', 'src')).toThrow(/^src: not JSON/);
  });
});

describe('proxyPath', () => {
  it('is the API server\'s service proxy path to /debug/syncz', () => {
    expect(proxyPath({ namespace: 'agentwarden-system', service: 'agentwarden-controller-metrics', port: 'http-metrics' })).toBe('/api/v1/namespaces/agentwarden-system/services/agentwarden-controller-metrics:http-metrics/proxy/debug/syncz');
  });
});
