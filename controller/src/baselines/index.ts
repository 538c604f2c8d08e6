// Behaviour baselines in the controller (DESIGN.md "Behaviour: baselines and
// anomalies"): the sidecars' operation summaries merge into one baseline per
// agent identity (baselines/book.ts); every replica writes what its sidecars
// reported into the AgentBaseline every writeIntervalMs when it changed, on top
// of the version it read (issue 20: every replica serves sidecars; book.ts), and
// Events for anomalies and quarantines on the pod (the replica that heard of
// them; releases: the leader); the baseline and the pod's quarantine go back to the
// sidecars in their snapshots (decorate). A restarted controller takes the
// baselines up from the AgentBaselines; their spec (accepted operations,
// releases) applies as it changes.
import type { OperationSummary } from '../../../proto/gen/agentwarden/v1/distribution_pb.js';
import type { Snapshot } from '../../../proto/gen/agentwarden/v1/snapshot_pb.js';
import { snapshotVersion } from '../../../policy/src/index.js';
import { Informer } from '../kube/informer.js';
import type { SlimPod } from '../kube/objects.js';
import type { PodEvent } from '../approvals/api.js';
import type { CrdWiring } from '../kube/crd-wiring.js';
import type { BaselineApi } from './api.js';
import { BaselineBook, DEFAULT_BASELINE_LIMITS, type BaselineLimits } from './book.js';
import { BASELINE_PLURAL, identityKey, specOf, statusOf, type AgentBaselineObject } from './objects.js';
import { isStatus } from '../approvals/api.js';

/** A write on a stale version: 409, or 422 from the JSON patch's failed resourceVersion test. */
function isConflict(e: unknown): boolean {
  return isStatus(e, 409) || isStatus(e, 422);
}

export { connectBaselineApi, type BaselineApi } from './api.js';
export { BaselineBook, DEFAULT_BASELINE_LIMITS, type BaselineLimits } from './book.js';

/** Events one summary may cause at most (anomalies beyond it are in the AgentBaseline only). */
const MAX_EVENTS_PER_SUMMARY = 3;
/** Decorated snapshots remembered (by snapshot version, baseline revision and pod). */
const MAX_DECORATED = 4096;

export interface BaselineWiring extends CrdWiring {
  readonly api: BaselineApi;
  readonly createEvent: (e: PodEvent) => Promise<void>;
  readonly writeIntervalMs: number;
  readonly limits?: BaselineLimits;
}

export interface BaselineCounters {
  summaries: number;
  summariesDropped: number;
  writes: number;
  writeErrors: number;
  /** Writes refused because another replica wrote first (retried on the new version). */
  writeConflicts: number;
  events: number;
}

export interface Baselines {
  readonly informer: Informer<AgentBaselineObject>;
  readonly book: BaselineBook;
  readonly counters: BaselineCounters;
  /** One OperationSummary from the stream of `podKey` (the authenticated pod, never what the message says). */
  summary(podKey: string, message: OperationSummary): void;
  /** The pod's snapshot with its identity's baseline and its quarantine (Snapshot fields 8 and 9), versioned anew. */
  decorate(pod: SlimPod, snapshot: Snapshot): Snapshot;
  /** Writes the changed AgentBaselines now (the leader); what the timer does. */
  flush(): Promise<void>;
  renderMetrics(): readonly string[];
  start(): void;
  stop(): Promise<void>;
}

export function baselines(w: BaselineWiring): Baselines {
  const book = new BaselineBook(w.limits ?? DEFAULT_BASELINE_LIMITS);
  const counters: BaselineCounters = { summaries: 0, summariesDropped: 0, writes: 0, writeErrors: 0, writeConflicts: 0, events: 0 };
  const decorated = new Map<string, Snapshot>();
  const informer: Informer<AgentBaselineObject> = new Informer<AgentBaselineObject>({
    name: BASELINE_PLURAL, path: `${w.apiPath}/${BASELINE_PLURAL}`, list: () => w.api.listBaselines(), watch: w.watch,
    onChange: () => { synced(); }, log: w.informerLog,
  });
  // `anyReplica`: raised by the replica whose sidecar reported it (each summary reaches one replica).
  const event = (pod: SlimPod, reason: PodEvent['reason'], message: string, anyReplica = false): void => {
    if (!anyReplica && !w.mayWrite()) return;
    counters.events++;
    w.createEvent({ namespace: pod.metadata.namespace, pod: pod.metadata.name, podUid: pod.metadata.uid, reason, message, type: reason === 'QuarantineReleased' ? 'Normal' : 'Warning' }).catch((e: unknown) => {
      w.log('warn', 'cannot write an Event on the pod', { pod: `${pod.metadata.namespace}/${pod.metadata.name}`, reason, error: e instanceof Error ? e.message : String(e) });
    });
  };
  /** The informer changed: every AgentBaseline's spec applies; a release may end a quarantine. */
  const synced = (): void => {
    let changed = false;
    for (const o of informer.list()) {
      const ns = o.metadata?.namespace ?? '';
      const result = book.sync(ns, specOf(o), statusOf(o), o.metadata?.resourceVersion);
      changed ||= result.changed;
      for (const name of result.released) {
        const pod = w.pods.get(ns, name);
        if (pod !== undefined) event(pod, 'QuarantineReleased', `quarantine released (AgentBaseline ${ns}/${o.metadata?.name ?? ''} spec.releases)`);
        w.log('info', 'quarantine released', { pod: `${ns}/${name}` });
      }
    }
    if (changed) w.onChange();
  };
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();
  const flush = async (): Promise<void> => {
    if (!informer.stats().synced) return;
    for (const key of book.keys()) {
      const id = book.identityOf(key);
      if (id !== undefined && w.pods.stats().synced) book.prunePods(key, (pod) => w.pods.get(id.namespace, pod) !== undefined);
    }
    for (const key of book.dirty()) {
      const id = book.identityOf(key);
      if (id === undefined) continue;
      let created: string | undefined;
      try {
        if (!book.exists(key)) {
          created = await w.api.createBaseline(id.namespace, id.serviceAccount);
          book.created(key);
        }
      } catch (e: unknown) {
        counters.writeErrors++;
        w.log('warn', 'cannot create the AgentBaseline; retrying at the next interval', { baseline: key, error: e instanceof Error ? e.message : String(e) });
        continue;
      }
      const write = book.beginWrite(key);
      if (write === undefined) continue;
      // On top of the version read: the one just created, else the informer's. Another replica's
      // object not seen yet: wait for the informer (written at the next interval).
      const base = write.version !== '' ? write.version : created;
      if (base === undefined) {
        book.writeFailed(key);
        continue;
      }
      try {
        book.writtenAt(key, write, await w.api.writeStatus(id.namespace, id.serviceAccount, write.status, base));
        counters.writes++;
      } catch (e: unknown) {
        book.writeFailed(key);
        if (isConflict(e)) {
          counters.writeConflicts++;
          continue;
        }
        counters.writeErrors++;
        w.log('warn', 'cannot write the AgentBaseline; retrying at the next interval', { baseline: key, error: e instanceof Error ? e.message : String(e) });
      }
    }
  };
  return {
    informer, book, counters,
    summary(podKey, message) {
      const [ns = '', name = ''] = podKey.split('/');
      const pod = w.pods.get(ns, name);
      // Before the AgentBaselines are listed, a merge could start a baseline that already exists.
      if (pod === undefined || !informer.stats().synced) {
        counters.summariesDropped++;
        if (pod !== undefined) book.droppedSummary(ns, pod.serviceAccount);
        return;
      }
      counters.summaries++;
      const anomaly = w.snapshotFor(podKey)?.policies.find((p) => p.grant === '' && p.anomaly !== undefined)?.anomaly;
      const outcome = book.merge(ns, pod.serviceAccount, name, message, Number(anomaly?.learnForMs ?? 0n), Date.now());
      for (const a of outcome.anomalies.slice(0, MAX_EVENTS_PER_SUMMARY)) {
        event(pod, 'AnomalyDetected', `${a.kind} ${a.operation} (${a.action}); decision ${a.decisionId}`, true);
      }
      if (outcome.quarantined !== undefined) {
        event(pod, 'Quarantined', `every request is denied (rule quarantined): ${outcome.quarantined.reason}; release with: agentwarden release ${ns}/${name}`, true);
        w.log('warn', 'pod quarantined', { pod: podKey, reason: outcome.quarantined.reason });
      }
      if (outcome.changed) w.onChange();
    },
    decorate(pod, snapshot) {
      if (!snapshot.policies.some((p) => p.anomaly !== undefined)) return snapshot;
      const key = identityKey(pod.metadata.namespace, pod.serviceAccount);
      const baseline = book.baseline(key);
      const quarantine = book.quarantine(key, pod.metadata.name);
      if (baseline === undefined && quarantine === undefined) return snapshot;
      const memo = `${snapshot.version}|${key}@${book.revision(key) ?? 0}|${quarantine === undefined ? '' : pod.metadata.name}`;
      let out = decorated.get(memo);
      if (out === undefined) {
        const next: Snapshot = { ...snapshot, ...(baseline === undefined ? {} : { baseline }), ...(quarantine === undefined ? {} : { quarantine }) };
        out = { ...next, version: snapshotVersion(next) };
        if (decorated.size >= MAX_DECORATED) decorated.clear();
        decorated.set(memo, out);
      }
      return out;
    },
    flush: () => (writing = writing.then(flush)),
    renderMetrics: () => [
      '# HELP agentwarden_baseline_summaries_total Operation summaries merged from sidecars, and dropped (pod unknown, or AgentBaselines not listed yet).',
      '# TYPE agentwarden_baseline_summaries_total counter',
      `agentwarden_baseline_summaries_total{outcome="merged"} ${counters.summaries}`,
      `agentwarden_baseline_summaries_total{outcome="dropped"} ${counters.summariesDropped}`,
      '# HELP agentwarden_baseline_writes_total AgentBaseline status writes by this replica, failures, and conflicts (another replica wrote first; retried on its version).',
      '# TYPE agentwarden_baseline_writes_total counter',
      `agentwarden_baseline_writes_total{outcome="ok"} ${counters.writes}`,
      `agentwarden_baseline_writes_total{outcome="error"} ${counters.writeErrors}`,
      `agentwarden_baseline_writes_total{outcome="conflict"} ${counters.writeConflicts}`,
      '# HELP agentwarden_baseline_events_total Events written for anomalies, quarantines and releases.',
      '# TYPE agentwarden_baseline_events_total counter',
      `agentwarden_baseline_events_total ${counters.events}`,
    ],
    start() {
      informer.start();
      timer ??= setInterval(() => { void (writing = writing.then(flush)); }, w.writeIntervalMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      timer = undefined;
      await writing;
      await informer.stop();
    },
  };
}
