// Issue 16's Must-show, through the sidecar as it runs in a pod: the
// `agentwarden sidecar` process (standalone mode, a policy file), asked over
// real gRPC exactly as Envoy asks, exporting its audit spans over OTLP
// http/protobuf to the local cluster's Jaeger. The same exfiltration request
// is allowed before and denied after a read of customer data in one session,
// and Jaeger's /api/traces shows the deny span referring to the read's span
// (Jaeger shows an OTLP span link as a FOLLOWS_FROM reference).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { AuthzClient } from '../../sidecar/src/authz/client.js';
import { checkRequestFrom, type RequestShorthand } from '../../cli/src/request-shorthand.js';
import { JAEGER_OTLP_HTTP, JAEGER_QUERY, tempFile, waitFor } from './cluster.js';
import { startSidecarProcess, type SidecarProcess } from './sidecar-process.js';
import { INJECTED_LABEL, INJECTED_LABEL_VALUE } from '../../controller/src/kube/objects.js';

const NAMESPACE = 'sessions-e2e';
const POD = 'crm-agent-0';

const POLICY = `apiVersion: agentwarden.io/v1alpha1
kind: AgentPolicy
metadata: {name: lethal-trifecta, namespace: ${NAMESPACE}}
spec:
  podSelector: {matchLabels: {app: crm-agent}}
  session: {key: pod, ttl: 1h}
  rules:
    - name: read-customer
      to: {hosts: [crm.internal]}
      http: {methods: [GET], paths: ["/customers/{id}"]}
      taints: [pii]
    - name: post-webhook
      to: {hosts: [hooks.slack.com]}
      http: {methods: [POST]}
    - name: no-exfil-after-pii
      action: Deny
      to: {hosts: ["*"]}
      http: {methods: [POST]}
      when: "'pii' in session.taints"
`;

const POD_YAML = `apiVersion: v1
kind: Pod
metadata: {name: ${POD}, namespace: ${NAMESPACE}, labels: {app: crm-agent, ${INJECTED_LABEL}: '${INJECTED_LABEL_VALUE}'}}
spec:
  serviceAccountName: crm-agent
  containers: [{name: agent, image: example.com/crm-agent:1}]
`;

const READ: RequestShorthand = { url: 'https://crm.internal/customers/17', method: 'GET' };
const EXFIL: RequestShorthand = { url: 'https://hooks.slack.com/services/T0/B0/x', method: 'POST', body: { text: 'customer 17: jane@example.com' } };

interface JaegerSpan {
  readonly traceID: string;
  readonly spanID: string;
  readonly operationName: string;
  readonly references: readonly { readonly refType: string; readonly traceID: string; readonly spanID: string }[];
  readonly tags: readonly { readonly key: string; readonly value: unknown }[];
}

let sidecar: SidecarProcess | undefined;
let client: AuthzClient | undefined;

beforeAll(async () => {
  const policyFile = tempFile('policy.yaml', POLICY);
  const podFile = tempFile('pod.yaml', POD_YAML);
  sidecar = await startSidecarProcess(['--policy', policyFile, '--pod', podFile, '--listen', '127.0.0.1:0', '--allow-tcp-credentials', '--admin-listen', '127.0.0.1:0'], {
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${JAEGER_OTLP_HTTP}/v1/traces`,
    OTEL_BSP_SCHEDULE_DELAY: '100',
  });
  client = new AuthzClient(sidecar.extAuthz);
});

afterAll(async () => {
  client?.close();
  await sidecar?.stop();
});

/** Asks the sidecar about `request` in the trace `traceId`; the decision and its id (the trace id). */
async function decide(request: RequestShorthand, traceId: string): Promise<{ readonly decision: string; readonly rule: string; readonly decisionId: string }> {
  if (client === undefined) throw new Error('the sidecar is not running');
  const res = await client.check(checkRequestFrom({ ...request, headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` } }));
  if (res.httpResponse.case === 'okResponse') {
    // What the agent is told: the allowing rule and the decision id.
    const told = new Map(res.httpResponse.value.responseHeadersToAdd.map((h) => [h.header?.key ?? '', h.header?.value ?? '']));
    return { decision: 'allow', rule: told.get('x-agentwarden-rule')?.split('/')[1] ?? '', decisionId: told.get('x-agentwarden-decision-id') ?? '' };
  }
  if (res.httpResponse.case !== 'deniedResponse') throw new Error(`no decision: ${res.status?.message ?? ''}`);
  const body = JSON.parse(res.httpResponse.value.body) as { rule: string; decisionId: string };
  return { decision: 'deny', rule: body.rule, decisionId: body.decisionId };
}

/** The decision span of trace `traceId` once Jaeger has it. */
async function decisionSpan(traceId: string): Promise<JaegerSpan> {
  return waitFor(`trace ${traceId} in Jaeger`, async () => {
    const res = await fetch(`${JAEGER_QUERY}/api/traces/${traceId}`);
    if (res.status !== 200) return undefined;
    const body = (await res.json()) as { data?: { spans?: JaegerSpan[] }[] };
    return body.data?.[0]?.spans?.find((s) => s.operationName === 'agentwarden.decision');
  }, 60_000, 200);
}

function tag(span: JaegerSpan, key: string): unknown {
  return span.tags.find((t) => t.key === key)?.value;
}

describe('session-aware rules through the sidecar, in Jaeger', () => {
  it('allows the exfiltration POST before a PII read, denies the same POST after it, and Jaeger shows the deny referring to the read', async () => {
    const [before, read, after] = [randomBytes(16).toString('hex'), randomBytes(16).toString('hex'), randomBytes(16).toString('hex')];

    expect(await decide(EXFIL, before)).toEqual({ decision: 'allow', rule: 'post-webhook', decisionId: before });
    expect(await decide(READ, read)).toEqual({ decision: 'allow', rule: 'read-customer', decisionId: read });
    expect(await decide(EXFIL, after)).toEqual({ decision: 'deny', rule: 'no-exfil-after-pii', decisionId: after });

    const readSpan = await decisionSpan(read);
    expect(tag(readSpan, 'agentwarden.rule')).toBe('read-customer');
    expect(tag(readSpan, 'agentwarden.session.id')).toBe(POD);
    const denySpan = await decisionSpan(after);
    expect([tag(denySpan, 'agentwarden.decision'), tag(denySpan, 'agentwarden.rule'), tag(denySpan, 'agentwarden.session.id')]).toEqual(['deny', 'no-exfil-after-pii', POD]);
    // Jaeger shows a string-array attribute as its JSON text.
    expect(tag(denySpan, 'agentwarden.session.taints')).toBe('["pii"]');
    // The deny's references: its parent (the caller's span, CHILD_OF) and the read's decision span (the link).
    expect(denySpan.references.filter((r) => r.traceID === read)).toEqual([{ refType: 'FOLLOWS_FROM', traceID: read, spanID: readSpan.spanID }]);
    const allowSpan = await decisionSpan(before);
    expect(allowSpan.references.filter((r) => r.refType === 'FOLLOWS_FROM')).toEqual([]);
  });
});
