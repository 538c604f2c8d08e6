// Counters of approvals for the controller's /metrics (common/prometheus.ts).
import { renderLines, type MetricFamily } from '../../../common/prometheus.js';

/** What became of an ApprovalNeeded message from a sidecar. */
export type ApprovalNeededOutcome = 'created' | 'recreated' | 'duplicate' | 'over_limit' | 'name_mismatch' | 'not_require_approval' | 'unknown_pod' | 'bad_operation' | 'not_leader' | 'error';
export type NotificationOutcome = 'sent' | 'retried' | 'failed' | 'dropped';
export type GrantEndReason = 'expired' | 'uses' | 'pending_ttl';

export class ApprovalMetrics {
  readonly approvalNeeded = new Map<ApprovalNeededOutcome, number>();
  readonly notifications = new Map<NotificationOutcome, number>();
  readonly grantsEnded = new Map<GrantEndReason, number>();
  readonly events = new Map<'created' | 'failed', number>();
  grantUsedReports = 0;
  activeGrants = 0;

  static inc<K>(map: Map<K, number>, key: K): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }

  render(): string[] {
    const labelled = <K extends string>(name: string, help: string, label: string, keys: readonly K[], map: ReadonlyMap<K, number>): MetricFamily => ({
      name, help, type: 'counter', samples: keys.map((k) => ({ labels: { [label]: k }, value: map.get(k) ?? 0 })),
    });
    return renderLines([
      labelled('agentwarden_approval_needed_total', 'ApprovalNeeded messages from sidecars, by outcome (created: a new AgentAccessRequest; over_limit: --max-pending-approvals-per-pod reached).', 'outcome',
        ['created', 'recreated', 'duplicate', 'over_limit', 'name_mismatch', 'not_require_approval', 'unknown_pod', 'bad_operation', 'not_leader', 'error'], this.approvalNeeded),
      labelled('agentwarden_approval_notifications_total', 'Notification webhook POSTs, by outcome (retried: a failed attempt retried with backoff; failed: given up; dropped: the queue was full).', 'outcome',
        ['sent', 'retried', 'failed', 'dropped'], this.notifications),
      labelled('agentwarden_approval_events_total', 'Kubernetes Events written on pods about their requests and grants.', 'outcome', ['created', 'failed'], this.events),
      labelled('agentwarden_grants_ended_total', 'Grants and requests the controller ended: expired (at expiresAt), uses (used reached uses), pending_ttl (nobody decided in time).', 'reason',
        ['expired', 'uses', 'pending_ttl'], this.grantsEnded),
      { name: 'agentwarden_grant_used_reports_total', help: 'GrantUsed messages from sidecars.', type: 'counter', samples: [{ value: this.grantUsedReports }] },
      { name: 'agentwarden_active_grants', help: 'Approved, unexpired AgentAccessRequests.', type: 'gauge', samples: [{ value: this.activeGrants }] },
    ]);
  }
}
