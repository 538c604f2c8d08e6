// ApprovalNeeded from a sidecar → an AgentAccessRequest (contract-15): the name
// is recomputed from the stream's authenticated pod (a sidecar cannot name a
// request for another pod or operation), the rule must be a RequireApproval
// rule of that pod's snapshot, pending requests are deduplicated by name and
// bounded per pod, an ended request of that name is deleted and created anew.
// GrantUsed → status.used, and the grant ends when used reaches uses.
import { approvalRequestName, RULE_ANOMALY_NOVEL_OPERATION, type OperationSpec } from '../../../policy/src/index.js';
import { Action, AnomalyAction, type Operation, type Snapshot } from '../../../proto/gen/agentwarden/v1/snapshot_pb.js';
import type { ApprovalNeeded, GrantUsed } from '../../../proto/gen/agentwarden/v1/distribution_pb.js';
import type { SlimPod } from '../kube/objects.js';
import type { Cache } from '../reconcile/reconciler.js';
import { isJsonObject, type JsonObject } from '../inject/json.js';
import type { ApprovalApi } from './api.js';
import { isStatus } from './api.js';
import { ApprovalMetrics, type ApprovalNeededOutcome } from './metrics.js';
import type { Notification } from './notify.js';
import { ACCESS_REQUEST_KIND, conditionsFor, field, isEnded, specOf, stateOf, statusOf, summaryOf, type AccessRequestObject } from './objects.js';
import { formatDuration, type ApprovalOptions } from './options.js';

/** Label on the requests the controller creates: the pod they are for (selects them per pod). */
export const POD_LABEL = 'agentwarden.io/pod';

export interface RequestDeps {
  readonly api: ApprovalApi;
  readonly requests: Cache<AccessRequestObject>;
  readonly pods: Cache<SlimPod>;
  readonly snapshotFor: (podKey: string) => Snapshot | undefined;
  readonly options: ApprovalOptions;
  readonly metrics: ApprovalMetrics;
  readonly notify: (n: Notification) => void;
  readonly event: (pod: SlimPod, reason: 'ApprovalRequired', message: string) => void;
  /** Whether this replica acts on the sidecars' messages (every replica does since issue 20; see approvals/index.ts). */
  readonly mayWrite: () => boolean;
  readonly log: (level: 'info' | 'warn', msg: string, fields: Record<string, unknown>) => void;
  readonly nowMs?: () => number;
}

/** The proto Operation as the policy core's OperationSpec; undefined when its arguments are not a JSON object. */
export function operationSpecOf(op: Operation): OperationSpec | undefined {
  const base = { method: op.method, host: op.host, port: op.port, path: op.path, query: op.query };
  if (op.mcpMethod === '' && op.mcpTool === '' && op.mcpArguments === '') return base;
  let args: unknown = {};
  if (op.mcpArguments !== '') {
    try {
      args = JSON.parse(op.mcpArguments);
    } catch {
      return undefined;
    }
  }
  if (!isJsonObject(args)) return undefined;
  return { ...base, mcp: { method: op.mcpMethod, tool: op.mcpTool, arguments: args } };
}

/** Whether `policy`/`rule` is a RequireApproval rule of the snapshot (policy by name or namespace/name). */
export function isRequireApprovalRule(snapshot: Snapshot, policy: string, rule: string): boolean {
  // spec.anomaly.novelOperation: RequireApproval asks through the same flow (issue 17).
  if (rule === RULE_ANOMALY_NOVEL_OPERATION) return snapshot.policies.some((p) => p.grant === '' && p.name === policy && p.anomaly?.novelOperation === AnomalyAction.REQUIRE_APPROVAL);
  return snapshot.rules.some((r) => {
    if (r.name !== rule || r.action !== Action.REQUIRE_APPROVAL) return false;
    const p = snapshot.policies[r.policy];
    return p !== undefined && p.grant === '' && (p.name === policy || `${p.namespace}/${p.name}` === policy);
  });
}

export class ApprovalRequests {
  /** Names being created now, by pod (the cache has not seen them yet). */
  private readonly inFlight = new Map<string, Set<string>>();

  constructor(private readonly d: RequestDeps) {}

  /** Handles one ApprovalNeeded of the stream of `podKey`; never throws. */
  async approvalNeeded(podKey: string, msg: ApprovalNeeded): Promise<ApprovalNeededOutcome> {
    const outcome = await this.decide(podKey, msg).catch((e: unknown): ApprovalNeededOutcome => {
      this.d.log('warn', 'cannot create the AgentAccessRequest', { pod: podKey, request: msg.name, error: e instanceof Error ? e.message : String(e) });
      return 'error';
    });
    ApprovalMetrics.inc(this.d.metrics.approvalNeeded, outcome);
    return outcome;
  }

  private async decide(podKey: string, msg: ApprovalNeeded): Promise<ApprovalNeededOutcome> {
    const [ns = '', podName = ''] = podKey.split('/');
    const pod = this.d.pods.get(ns, podName);
    if (pod === undefined) return 'unknown_pod';
    if (!this.d.mayWrite()) return 'not_leader';
    const op = msg.operation === undefined ? undefined : operationSpecOf(msg.operation);
    if (op === undefined) return 'bad_operation';
    const name = approvalRequestName(pod.metadata.name, msg.policy, msg.rule, op);
    if (name !== msg.name) {
      this.d.log('warn', 'ApprovalNeeded names another request than its pod and operation do; refused', { pod: podKey, sent: msg.name.slice(0, 253), expected: name });
      return 'name_mismatch';
    }
    const snapshot = this.d.snapshotFor(podKey);
    if (snapshot === undefined || !isRequireApprovalRule(snapshot, msg.policy, msg.rule)) return 'not_require_approval';
    const inFlight = this.inFlight.get(podKey) ?? new Set<string>();
    if (inFlight.has(name)) return 'duplicate';
    const existing = this.d.requests.get(ns, name);
    if (existing !== undefined && !isEnded(stateOf(existing))) return 'duplicate';
    if (this.pendingOf(pod) + inFlight.size >= this.d.options.maxPendingPerPod) return 'over_limit';
    inFlight.add(name);
    this.inFlight.set(podKey, inFlight);
    try {
      if (existing !== undefined) {
        try {
          await this.d.api.deleteAccessRequest(ns, name, existing.metadata?.uid ?? '');
        } catch (e: unknown) {
          // Another replica replaced it first (the uid precondition failed): theirs stands.
          if (isStatus(e, 409)) return 'duplicate';
          throw e;
        }
      }
      const created = await this.create(pod, name, msg, op, existing !== undefined);
      return created ? (existing === undefined ? 'created' : 'recreated') : 'duplicate';
    } finally {
      inFlight.delete(name);
      if (inFlight.size === 0) this.inFlight.delete(podKey);
    }
  }

  /** Pending requests the controller created for this pod (by label), as cached. */
  private pendingOf(pod: SlimPod): number {
    let n = 0;
    for (const r of this.d.requests.list()) {
      if (r.metadata?.namespace !== pod.metadata.namespace || r.metadata.labels?.[POD_LABEL] !== pod.metadata.name) continue;
      if (stateOf(r) === 'Pending') n++;
    }
    return n;
  }

  private async create(pod: SlimPod, name: string, msg: ApprovalNeeded, op: OperationSpec, recreated: boolean): Promise<boolean> {
    const ns = pod.metadata.namespace;
    const spec: JsonObject = {
      pod: pod.metadata.name,
      serviceAccount: pod.serviceAccount,
      operation: operationJson(op),
      duration: formatDuration(this.d.options.defaultDurationMs),
      origin: { policy: msg.policy, rule: msg.rule, decisionId: msg.decisionId.slice(0, 128) },
      ...(this.d.options.grantUses > 0 ? { uses: this.d.options.grantUses } : {}),
    };
    let created: AccessRequestObject;
    try {
      created = await this.d.api.createAccessRequest(ns, {
        apiVersion: 'agentwarden.io/v1alpha1', kind: ACCESS_REQUEST_KIND,
        metadata: { name, namespace: ns, labels: { [POD_LABEL]: pod.metadata.name } },
        spec,
      });
    } catch (e: unknown) {
      if (isStatus(e, 409)) return false;
      throw e;
    }
    const summary = summaryOf(spec);
    const nowIso = new Date((this.d.nowMs ?? Date.now)()).toISOString();
    await this.d.api.writeStatus(ns, name, created.metadata?.resourceVersion ?? '', { state: 'Pending', summary, conditions: [] }).catch((e: unknown) => {
      // The request exists and works without its summary; the printer column stays empty.
      this.d.log('warn', 'cannot write the summary of a new AgentAccessRequest', { request: `${ns}/${name}`, error: e instanceof Error ? e.message : String(e), at: nowIso });
    });
    const approveCommand = `agentwarden approve ${ns}/${name}`;
    this.d.log('info', recreated ? 'AgentAccessRequest created again (the previous one had ended)' : 'AgentAccessRequest created', { request: `${ns}/${name}`, operation: summary });
    this.d.event(pod, 'ApprovalRequired', `${msg.policy}/${msg.rule} requires approval for ${summary}: ${approveCommand}`);
    this.d.notify({
      text: `Agent ${ns}/${pod.metadata.name} asks for approval: ${summary} (rule ${msg.policy}/${msg.rule}). Approve with: ${approveCommand}`,
      agentwarden: { request: name, namespace: ns, pod: pod.metadata.name, operation: summary, approveCommand },
    });
    return true;
  }

  /** Handles one GrantUsed of the stream of `podKey`: status.used, and the end of the grant at uses. */
  async grantUsed(podKey: string, msg: GrantUsed): Promise<void> {
    this.d.metrics.grantUsedReports++;
    const [ns = '', podName = ''] = podKey.split('/');
    const r = this.d.requests.get(ns, msg.name);
    if (r === undefined || r.metadata?.uid !== msg.uid || stateOf(r) !== 'Approved' || !this.d.mayWrite()) return;
    const spec = specOf(r);
    // Only a grant for this very pod counts its uses (approval grants name their pod).
    if (spec['pod'] !== podName) return;
    const status = statusOf(r);
    const before = typeof status['used'] === 'number' ? status['used'] : 0;
    const used = Math.max(before, msg.used);
    if (used === before) return;
    const uses = typeof field(spec, 'uses') === 'number' ? (spec['uses'] as number) : 0;
    const ended = uses > 0 && used >= uses;
    const nowIso = new Date((this.d.nowMs ?? Date.now)()).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const next: JsonObject = ended
      ? { ...status, used, state: 'Expired', conditions: conditionsFor(status['conditions'], 'Expired', nowIso, `used ${used} of ${uses} allowed uses`) }
      : { ...status, used };
    try {
      await this.d.api.writeStatus(ns, msg.name, r.metadata.resourceVersion ?? '', next);
      if (ended) ApprovalMetrics.inc(this.d.metrics.grantsEnded, 'uses');
    } catch (e: unknown) {
      this.d.log('warn', 'cannot record the uses of a grant', { request: `${ns}/${msg.name}`, error: e instanceof Error ? e.message : String(e) });
    }
  }
}

function operationJson(op: OperationSpec): JsonObject {
  const out: JsonObject = { method: op.method, host: op.host, port: op.port, path: op.path, query: op.query };
  if (op.mcp !== undefined) out['mcp'] = { method: op.mcp.method, tool: op.mcp.tool, arguments: op.mcp.arguments as JsonObject };
  return out;
}
