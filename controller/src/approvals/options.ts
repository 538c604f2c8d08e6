// The approval settings (DESIGN.md "Approvals and break-glass"): bounds on
// grants and pending requests, the default duration of a request the
// controller creates, where notifications go, and who the controller is (it
// alone may end grants). Read from flags in config.ts; defaults here.

export interface ApprovalOptions {
  /** Longest grant (spec.duration or status.duration), ms. Default 4h (--max-grant-duration). */
  readonly maxGrantDurationMs: number;
  /** A request nobody decided within this time after creation expires, ms. Default 1h (--approval-pending-ttl). */
  readonly pendingTtlMs: number;
  /** Pending requests the controller creates per pod; beyond, counted and not created. Default 20 (--max-pending-approvals-per-pod). */
  readonly maxPendingPerPod: number;
  /** spec.duration of the requests the controller creates, ms. Default 15m (--default-grant-duration). */
  readonly defaultDurationMs: number;
  /** spec.uses of the requests the controller creates: requests one approval allows; 0 = any until expiry (--approval-grant-uses). */
  readonly grantUses: number;
  /** The Secret (key `url`) holding the Slack-compatible notification webhook URL; undefined: no POSTs. */
  readonly notifyWebhookSecret: { readonly namespace: string; readonly name: string } | undefined;
  /**
   * The controller's own user as the API server authenticates it
   * ("system:serviceaccount:<ns>:<name>"): the only user the status webhook lets make the
   * controller's transitions (Approved → Expired | ReviewRequired, Pending → Expired).
   */
  readonly controllerUsername: string;
}

export const DEFAULT_APPROVAL_OPTIONS: ApprovalOptions = Object.freeze({
  maxGrantDurationMs: 4 * 3_600_000,
  pendingTtlMs: 3_600_000,
  maxPendingPerPod: 20,
  defaultDurationMs: 15 * 60_000,
  grantUses: 0,
  notifyWebhookSecret: undefined,
  controllerUsername: 'system:serviceaccount:agentwarden-system:agentwarden-controller',
});

/** "15m", "4h", "1h30m" from milliseconds (whole seconds). */
export function formatDuration(ms: number): string {
  let s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const out = `${h > 0 ? `${h}h` : ''}${m > 0 ? `${m}m` : ''}${s > 0 ? `${s}s` : ''}`;
  return out === '' ? '0s' : out;
}
