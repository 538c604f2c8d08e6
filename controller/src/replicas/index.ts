// Every replica serves sidecars (issue 20): each publishes what its sidecars
// acknowledged in its own report Lease (publisher.ts, report.ts) and watches
// the others' (reports.ts); the leader writes AgentPolicy.status from its own
// streams and every live replica's report, so pods.synced counts them all.
import type { CoordinationV1Api, KubernetesObject, V1Lease, Watch } from '@kubernetes/client-node';
import { Informer, type InformerOptions } from '../kube/informer.js';
import type { PolicyEntry } from '../reconcile/snapshots.js';
import type { PodSyncState } from '../observe/sync-metrics.js';
import { ReportPublisher } from './publisher.js';
import { policyKey, REPORT_LABEL, type ReplicaReport } from './report.js';
import { ReplicaReports, remoteSynced, type LiveReport } from './reports.js';

export { policyKey, REPORT_ANNOTATION, REPORT_LABEL, REPORT_LEASE_PREFIX, reportLeaseName, encodeReport, decodeReport, type ReplicaReport } from './report.js';
export { remotePods, remoteSynced, type LiveReport } from './reports.js';

export interface ReplicasWiring {
  readonly coordination: CoordinationV1Api;
  readonly watch: Watch;
  /** The controller's namespace (where the leader-election Lease is). */
  readonly namespace: string;
  readonly identity: string;
  /** This replica's connected pods and their sync states (reconciler.podSyncStates). */
  readonly podStates: () => readonly { readonly pod: string; readonly state: PodSyncState }[];
  /** The policies this replica compiled its snapshots from. */
  readonly policies: () => readonly PolicyEntry[];
  /** Another replica's report changed or expired: status is due. */
  readonly onChange: () => void;
  readonly log: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
  readonly informerLog: InformerOptions<KubernetesObject>['log'];
}

export interface Replicas {
  readonly publisher: ReportPublisher;
  readonly informer: Informer<V1Lease>;
  readonly reports: ReplicaReports;
  /** This replica's report now. */
  report(): ReplicaReport;
  /** The other replicas' live reports (read once per status pass). */
  live(): LiveReport[];
  /** A status PodSynced over `live`: synced on this replica, or on the live replica that serves the pod. */
  syncedElsewhere(live: readonly LiveReport[], podKey: string, entry: PolicyEntry): boolean;
  renderMetrics(): readonly string[];
  start(): void;
  stop(): Promise<void>;
}

export function replicas(w: ReplicasWiring): Replicas {
  const report = (): ReplicaReport => {
    const generations = new Map<string, number>();
    for (const e of w.policies()) generations.set(policyKey(e.object.metadata?.namespace ?? '', e.object.metadata?.name ?? ''), e.object.metadata?.generation ?? 0);
    return { generations, pods: new Map(w.podStates().map((p) => [p.pod, p.state])), dropped: 0 };
  };
  const publisher = new ReportPublisher(w.coordination, { namespace: w.namespace, identity: w.identity, report, log: w.log });
  const informer = new Informer<V1Lease>({
    name: 'replica-reports', path: `/apis/coordination.k8s.io/v1/namespaces/${w.namespace}/leases`, selector: { labelSelector: `${REPORT_LABEL}=true` },
    list: async () => {
      const l = await w.coordination.listNamespacedLease({ namespace: w.namespace, labelSelector: `${REPORT_LABEL}=true` });
      return { items: l.items, resourceVersion: l.metadata?.resourceVersion ?? '' };
    },
    watch: w.watch, onChange: () => { w.onChange(); }, log: w.informerLog,
  });
  const reports = new ReplicaReports({ identity: w.identity, leases: informer, onExpired: w.onChange, log: (l, m, f) => { w.log(l, m, f); } });
  return {
    publisher, informer, reports, report,
    live: () => reports.live(),
    syncedElsewhere: (live, podKey, entry) => remoteSynced(live, podKey, policyKey(entry.object.metadata?.namespace ?? '', entry.object.metadata?.name ?? ''), entry.object.metadata?.generation ?? 0),
    renderMetrics: () => {
      const live = reports.live();
      return [
        '# HELP agentwarden_replica_report_writes_total Writes of this replica\'s report Lease (agentwarden-controller-replica-<identity>), and failures.',
        '# TYPE agentwarden_replica_report_writes_total counter',
        `agentwarden_replica_report_writes_total{outcome="ok"} ${publisher.writes}`,
        `agentwarden_replica_report_writes_total{outcome="error"} ${publisher.writeErrors}`,
        '# HELP agentwarden_replica_reports Live reports of the other replicas, and the pods they serve.',
        '# TYPE agentwarden_replica_reports gauge',
        `agentwarden_replica_reports ${live.length}`,
        '# HELP agentwarden_replica_report_pods Pods served by the other live replicas, by sync state (from their reports).',
        '# TYPE agentwarden_replica_report_pods gauge',
        ...(['synced', 'pending', 'nacked', 'stale'] as const).map((s) => `agentwarden_replica_report_pods{state="${s}"} ${live.reduce((n, r) => n + [...r.report.pods.values()].filter((v) => v === s).length, 0)}`),
        '# HELP agentwarden_replica_reports_invalid_total Replica reports that could not be decoded (ignored).',
        '# TYPE agentwarden_replica_reports_invalid_total counter',
        `agentwarden_replica_reports_invalid_total ${reports.invalid}`,
      ];
    },
    start: () => { informer.start(); publisher.start(); },
    stop: async () => {
      reports.stop();
      await publisher.stop();
      await informer.stop();
    },
  };
}
