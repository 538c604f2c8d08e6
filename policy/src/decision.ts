// What the evaluator answers for one request.
import type { OperationSpec } from './model.js';
import type { TaintOrigin } from './session-store.js';

export type EffectiveMode = 'Enforce' | 'Audit';

/** The decision the Audit policies would have made, had they been enforced. */
export interface AuditDecision {
  readonly allowed: boolean;
  readonly policy: string;
  readonly rule: string;
  readonly reason: string;
}

/** Facts about the request that audit spans and deny responses carry. */
export interface RequestFacts {
  readonly method: string;
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly mcpMethod: string;
  readonly mcpTool: string;
  /** The JSON-RPC id of an MCP request (string, number or null), undefined when not MCP. */
  readonly mcpId: string | number | null | undefined;
}

export interface Decision {
  readonly allowed: boolean;
  readonly mode: EffectiveMode;
  /** Name of the policy of the deciding rule; "" for default-deny and invalid-request. */
  readonly policy: string;
  /** The deciding rule, or "default-deny" / "invalid-request" / "no-policy-loaded". */
  readonly rule: string;
  readonly reason: string;
  /** Present when Audit policies govern the pod. */
  readonly auditDecision: AuditDecision | null;
  /** Headers to add upstream on allow (credentials). Values are secret. */
  readonly headers: readonly (readonly [string, string])[];
  readonly request: RequestFacts | undefined;
  /**
   * Names (lower case) of the x-agentwarden-* headers the agent sent: never
   * decided on, and removed upstream on allow. Absent when there are none.
   */
  readonly headersToRemove?: readonly string[];
  /** Present when an active grant allowed the request (DESIGN.md point 10). */
  readonly grant?: GrantFacts;
  /** Present when a RequireApproval rule denied it (point 11): the AgentAccessRequest to ask for. */
  readonly approval?: ApprovalFacts;
  /**
   * Present when a break-glass grant allowed the request: the operation in full
   * (query keys, MCP arguments with secret-looking fields redacted) for the audit span.
   */
  readonly detail?: DecisionDetail;
  /**
   * Present when a governing policy has a rule with taints or a `when` that
   * reads `session` (DESIGN.md point 12).
   */
  readonly session?: DecisionSession;
  /** Present when the operation was an anomaly (DESIGN.md "Behaviour"): novel or a rate spike. */
  readonly anomaly?: AnomalyFacts;
}

export interface AnomalyFacts {
  readonly kind: 'novel-operation' | 'rate-spike';
  /** The operation's fingerprint, e.g. "GET api.example.com/v1/items/{id}". */
  readonly operation: string;
  /** What was done: Alert (recorded only), Deny or RequireApproval. */
  readonly action: 'Alert' | 'Deny' | 'RequireApproval';
  /** This anomaly quarantined the pod. */
  readonly quarantined: boolean;
  /** A rate spike found before in the same window, denied again: not counted, not reported again. */
  readonly repeat?: true;
}

export interface DecisionSession {
  /** The session key's value: the pod name, the header's value or the trace id; "" when the request has none. */
  readonly id: string;
  /** The session's labels before this request. */
  readonly taints: readonly string[];
  /** The labels this decision added (or refreshed): an effective allow by a rule with taints. */
  readonly added: readonly string[];
  /**
   * Where the taints that changed this decision came from: when the deciding
   * rule's `when` reads session.taints, the origins of the session's taints
   * (at most MAX_SESSION_LINKS, newest first).
   */
  readonly links: readonly TaintOrigin[];
}

/** Links one decision carries at most. */
export const MAX_SESSION_LINKS = 8;

export interface GrantFacts {
  /** The AgentAccessRequest's name. */
  readonly name: string;
  readonly kind: 'approval' | 'break-glass';
  /** The namespaced Deny or RequireApproval rule it overrode ("policy/rule"), else null. */
  readonly overriddenRule: string | null;
}

export interface ApprovalFacts {
  /** Deterministic per pod, rule and operation: approvalRequestName(). */
  readonly name: string;
  readonly operation: OperationSpec;
}

export interface DecisionDetail {
  readonly queryKeys: readonly string[];
  /** Canonical JSON of the MCP arguments, redacted; "" when not MCP. */
  readonly mcpArguments: string;
}

export const RULE_DEFAULT_DENY = 'default-deny';
export const RULE_INVALID_REQUEST = 'invalid-request';
export const RULE_NO_POLICY_LOADED = 'no-policy-loaded';
/** An allow outside every Allow rule of the ceiling ClusterAgentPolicies that select the pod (point 10). */
export const RULE_CLUSTER_CEILING = 'cluster-ceiling';
/** A RequireApproval rule matched and no grant allowed the request (point 11). */
export const REASON_APPROVAL_REQUIRED = 'approval required';
/** A rule that injects a credential allowed, but the credential (a Secret value, an unexpired OAuth token) is not there. */
export const REASON_CREDENTIAL_UNAVAILABLE = 'credential unavailable';
