// The AgentPolicy model (agentwarden.io/v1alpha1) after validation and
// defaulting, and the pod identity a snapshot is compiled for. Field names are
// DESIGN.md's public contract.

export type Mode = 'Enforce' | 'Audit';
export type Action = 'Allow' | 'Deny' | 'RequireApproval';
export type Weekday = 'Sun' | 'Mon' | 'Tue' | 'Wed' | 'Thu' | 'Fri' | 'Sat';

export const WEEKDAYS: readonly Weekday[] = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE'] as const;
export const MAX_RULES = 256;

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  readonly values: readonly string[];
}

export interface LabelSelector {
  readonly matchLabels: Readonly<Record<string, string>>;
  readonly matchExpressions: readonly LabelSelectorRequirement[];
}

export interface ScheduleWindow {
  readonly days: readonly Weekday[];
  /** "HH:MM", 00:00..24:00 */
  readonly start: string;
  readonly end: string;
}

export interface Schedule {
  readonly timezone: string;
  readonly windows: readonly ScheduleWindow[];
}

export interface RateLimitSpec {
  readonly requests: number;
  /** A Go-style duration: "1m", "30s", "1h30m". */
  readonly per: string;
}

export interface Rule {
  readonly name: string;
  readonly action: Action;
  readonly to: { readonly hosts: readonly string[]; readonly ports: readonly number[] };
  readonly http?: { readonly methods: readonly string[]; readonly paths: readonly string[] };
  readonly mcp?: { readonly methods: readonly string[]; readonly tools: readonly string[] };
  readonly when?: string;
  readonly schedule?: Schedule;
  readonly rateLimit?: RateLimitSpec;
  /** The credential's name (`credential: name` or `credential: {name, scopes}`). */
  readonly credential?: string;
  /**
   * `credential: {name, scopes}`: the scopes of an oauth2 credential this rule's
   * token carries (a subset of the credential's); absent: all of them.
   */
  readonly credentialScopes?: readonly string[];
  /** Labels added to the caller's session when this rule allows (DESIGN.md point 12). */
  readonly taints?: readonly string[];
}

/** Whose session a policy's taints join, and how long a taint lasts (AgentPolicy spec.session). */
export interface SessionSpec {
  /** "pod" (default), "header:<lower-case name>" or "trace" (the W3C trace id). */
  readonly key: string;
  /** A Go-style duration: "1h" (default). */
  readonly ttl: string;
}

export const DEFAULT_SESSION_KEY = 'pod';
export const DEFAULT_SESSION_TTL = '1h';
/** Labels one rule may add. */
export const MAX_RULE_TAINTS = 16;

/** What spec.anomaly does with an anomaly (DESIGN.md "Behaviour: baselines and anomalies"). */
export type AnomalyActionName = 'Off' | 'Alert' | 'Deny' | 'RequireApproval';

/** AgentPolicy spec.anomaly after defaulting. */
export interface AnomalySpec {
  /** A Go-style duration: how long an agent identity learns before anything is novel ("24h" default). */
  readonly learnFor: string;
  readonly novelOperation: AnomalyActionName;
  /** Absent: no rate-spike detection. */
  readonly rateSpike?: { readonly factor: number; readonly over: string; readonly action: AnomalyActionName };
  /** Absent: never quarantined. */
  readonly quarantineAfter?: { readonly anomalies: number; readonly within: string };
}

export const DEFAULT_ANOMALY_LEARN_FOR = '24h';
export const DEFAULT_RATE_SPIKE_OVER = '1m';
export const DEFAULT_QUARANTINE_WITHIN = '10m';

export interface CredentialSpec {
  readonly name: string;
  /** A static value (exactly one of secretRef and oauth2 is set). */
  readonly secretRef?: { readonly name: string; readonly key: string };
  /** A brokered OAuth 2.0 token (DESIGN.md "Brokered OAuth credentials"). */
  readonly oauth2?: OAuth2Spec;
  readonly header: string;
  readonly prefix: string;
}

/** How the controller obtains a credential's access tokens: the client-credentials grant (RFC 6749 section 4.4). */
export interface OAuth2Spec {
  /** https URL of the token endpoint. */
  readonly tokenUrl: string;
  /** The Secret (in the policy's namespace) with keys client_id and client_secret. */
  readonly clientSecretRef: { readonly name: string };
  /** Every scope a rule may ask for (sorted as written); a rule without scopes gets all. */
  readonly scopes: readonly string[];
  /** Sent as the RFC 8707 `resource` parameter when set. */
  readonly audience?: string;
  /** Extra form parameters of the token request (e.g. {audience: …} for servers that read that name). */
  readonly parameters: Readonly<Record<string, string>>;
  /** How the client authenticates: client_secret_basic (default) or client_secret_post. */
  readonly clientAuth: OAuth2ClientAuth;
}

export type OAuth2ClientAuth = 'ClientSecretBasic' | 'ClientSecretPost';

/** The keys of an oauth2 credential's clientSecretRef Secret. */
export const OAUTH2_CLIENT_ID_KEY = 'client_id';
export const OAUTH2_CLIENT_SECRET_KEY = 'client_secret';

export interface AgentPolicy {
  readonly name: string;
  /** "" for a ClusterAgentPolicy. */
  readonly namespace: string;
  readonly generation: number;
  /** Where the manifest came from (file path, or "namespace/name" from the API server). */
  readonly source: string;
  readonly podSelector: LabelSelector;
  readonly mode: Mode;
  readonly rules: readonly Rule[];
  readonly credentials: readonly CredentialSpec[];
  /** spec.session as written; absent: key pod, ttl 1h. */
  readonly session?: SessionSpec;
  /** spec.anomaly as written and defaulted; absent: no baseline, no anomaly detection. */
  readonly anomaly?: AnomalySpec;
  /** Present for a ClusterAgentPolicy (cluster-scoped, platform-owned; DESIGN.md point 10). */
  readonly cluster?: ClusterScope;
}

/** What only a ClusterAgentPolicy has. */
export interface ClusterScope {
  /** Which namespaces' pods it governs (their labels); with podSelector, which pods. */
  readonly namespaceSelector: LabelSelector;
  /** Its Allow rules are the most any namespaced policy can allow the pods it selects. */
  readonly ceiling: boolean;
}

/** The identity of the pod a snapshot is compiled for. */
export interface PodIdentity {
  readonly namespace: string;
  readonly name: string;
  readonly serviceAccount: string;
  readonly labels: Readonly<Record<string, string>>;
  /**
   * The labels of the pod's namespace, for ClusterAgentPolicy namespaceSelectors.
   * Absent: only kubernetes.io/metadata.name, which the API server sets on every namespace.
   */
  readonly namespaceLabels?: Readonly<Record<string, string>>;
}

/** What an active grant is (DESIGN.md "Approvals and break-glass"). */
export type GrantKind = 'approval' | 'break-glass';

/** Where an AgentAccessRequest stands (status.state; conditions mirror it). */
export type AccessRequestState = 'Pending' | 'Approved' | 'Denied' | 'Expired' | 'ReviewRequired' | 'Reviewed';

/** One request as a human approves it (DESIGN.md point 11); an approval grant allows exactly this. */
export interface OperationSpec {
  /** Upper case. */
  readonly method: string;
  /** Lower case, no port. */
  readonly host: string;
  readonly port: number;
  /** Without the query. */
  readonly path: string;
  /** Raw query string without "?" ("" when none). */
  readonly query: string;
  readonly mcp?: { readonly method: string; readonly tool: string; readonly arguments: Readonly<Record<string, unknown>> };
}

/** An AgentAccessRequest (agentwarden.io/v1alpha1) after validation and defaulting. */
export interface AccessRequest {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  /** Where the manifest came from (file path, or "namespace/name"). */
  readonly source: string;
  /** The pod it is for; absent when podSelector says which pods (break-glass on a workload). */
  readonly pod?: string;
  readonly podSelector?: LabelSelector;
  readonly serviceAccount: string;
  /** Approval: the operation asked for. */
  readonly operation?: OperationSpec;
  /** Break-glass: the rules asked for (AgentPolicy rule schema, Allow only). */
  readonly rules: readonly Rule[];
  readonly kind: GrantKind;
  /** The grant's duration as written ("15m"), and in milliseconds: status.duration (approve --for) when set, else spec.duration. */
  readonly duration: string;
  readonly durationMs: number;
  readonly justification: string;
  /** Approval: requests it allows (0: any number until expiry). */
  readonly uses: number;
  readonly origin?: { readonly policy: string; readonly rule: string; readonly decisionId: string };
  readonly state: AccessRequestState;
  readonly approvedBy: string;
  /** Unix milliseconds; 0 when not approved. */
  readonly expiresAtMs: number;
}
