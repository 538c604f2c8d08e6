// Where anomalies meet the decision (DESIGN.md "Behaviour: baselines and
// anomalies", decision semantics point 10): a quarantined pod is denied
// everything (rule `quarantined`) right after invalid-request; an allow by the
// rules is judged against the baseline: Alert records, Deny denies (rule
// anomaly-novel-operation or anomaly-rate-spike), RequireApproval asks for an
// AgentAccessRequest of exactly that operation through the approval flow.
// Grants are never judged: a human allowed that operation.
import { REASON_APPROVAL_REQUIRED, type AnomalyFacts } from './decision.js';
import type { AnomalyDetector } from './anomaly.js';
import { operationFingerprint } from './fingerprint.js';
import { approvalRequestName } from './operation.js';
import type { RequestSession } from './request-session.js';
import { describeRequest, type Verdict } from './verdict.js';

export const RULE_QUARANTINED = 'quarantined';
export const RULE_ANOMALY_NOVEL_OPERATION = 'anomaly-novel-operation';
export const RULE_ANOMALY_RATE_SPIKE = 'anomaly-rate-spike';

/** The reason of a quarantined pod's deny. */
export function quarantineReason(namespace: string, pod: string, q: { readonly sinceMs: number; readonly reason: string }): string {
  return `pod ${namespace}/${pod} is quarantined since ${new Date(q.sinceMs).toISOString()} (${q.reason}); \`agentwarden release ${namespace}/${pod}\` ends it`;
}

/**
 * Judges an effective verdict (`act`: false for Audit-only pods, whose anomalies
 * are recorded only). Returns the verdict to decide with and the anomaly found.
 */
export function judgeAnomaly(session: RequestSession, v: Verdict, detector: AnomalyDetector, act: boolean): { readonly verdict: Verdict; readonly anomaly: AnomalyFacts | undefined } {
  const a = session.loaded.anomaly;
  if (a === undefined || !v.allowed || v.grant !== undefined) return { verdict: v, anomaly: undefined };
  const fp = operationFingerprint(session.view, v.rule?.pathTemplate);
  const finding = detector.observe(a, fp, session.nowMs);
  if (finding === undefined) return { verdict: v, anomaly: undefined };
  const action = act ? finding.action : 'Alert';
  const anomaly: AnomalyFacts = { kind: finding.kind, operation: finding.operation, action, quarantined: finding.quarantined, ...(finding.repeat ? { repeat: true as const } : {}) };
  if (action === 'Alert') return { verdict: v, anomaly };
  const what = finding.kind === 'novel-operation'
    ? `operation "${fp}" is not in the baseline of ${session.loaded.agent.namespace}/${session.loaded.agent.serviceAccount}`
    : `${describeRequest(session.view)} is over ${a.spikeFactor} times the learned rate per ${a.spikeOverMs} ms`;
  const ruleName = finding.kind === 'novel-operation' ? RULE_ANOMALY_NOVEL_OPERATION : RULE_ANOMALY_RATE_SPIKE;
  if (action === 'RequireApproval') {
    const op = session.operation().spec;
    const name = approvalRequestName(session.loaded.agent.name, a.policy, ruleName, op);
    return {
      verdict: {
        allowed: false, rule: undefined, ruleName, policyName: a.policy,
        reason: `${REASON_APPROVAL_REQUIRED}: ${what}; spec.anomaly of policy "${a.policy}" needs a human to approve it (AgentAccessRequest ${session.loaded.agent.namespace}/${name})`,
        approval: { name, operation: op },
      },
      anomaly,
    };
  }
  return { verdict: { allowed: false, rule: undefined, ruleName, policyName: a.policy, reason: `${what}; spec.anomaly of policy "${a.policy}" denies it` }, anomaly };
}
