// The support-agent example as a running pod: the example's policies and
// labels, its Zendesk token in a Secret, and the services it talks to on the
// test side of the pod's veth (Zendesk over TLS, the MCP ticket server,
// billing, the CRM, Slack, an MCP server with a web_fetch tool, a catch-all
// for other hosts, and an address where the agent would like its credential
// to go). The controller serves the
// AgentAccessRequest webhooks for the namespace. The sidecar exports its decision
// spans to Jaeger through a forward from the pod network to loopback.
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { forwardTcp } from '../e2e/pod/control-plane.js';
import { startDnsServer } from '../e2e/pod/dns/dns-server.js';
import type { PodNetwork } from '../e2e/pod/netns.js';
import { ROOT } from '../e2e/pod/pod.js';
import { startScenario, type Scenario } from '../e2e/pod/scenario.js';
import { startHttpUpstream, type RunningHttpUpstream } from '../e2e/pod/upstreams/http-upstream.js';
import { startHttpsUpstream, type RunningHttpsUpstream } from '../e2e/pod/upstreams/https-upstream.js';
import { startMcpServer, type RunningMcpServer } from '../e2e/pod/upstreams/mcp-server.js';
import { DEMO_BASELINE_WRITE_INTERVAL, DEMO_SUMMARY_INTERVAL } from './baseline.js';
import { readYamlDocuments } from '../policy/io/manifests.js';
import { isPlain } from '../policy/src/fields.js';

export const EXAMPLE = join(ROOT, 'examples/support-agent');
export const NAMESPACE = 'support';
export const ZENDESK = 'api.zendesk.com';
export const MCP_HOST = 'mcp.support.internal';
/** The MCP server with the web_fetch tool: what it returns is untrusted content. */
export const WEB_MCP_HOST = 'mcp.web.internal';
export const SLACK = 'hooks.slack.com';

/** The services the demo's agent reaches, each a recording server. */
export interface Upstreams {
  readonly zendesk: RunningHttpsUpstream;
  readonly mcp: RunningMcpServer;
  readonly billing: RunningHttpUpstream;
  readonly crm: RunningHttpUpstream;
  /** hooks.slack.com: a way to send data out. */
  readonly slack: RunningHttpUpstream;
  /** mcp.web.internal: the web_fetch tool. */
  readonly web: RunningMcpServer;
  /** api.stripe.com and pastebin.com: hosts the policy never allows. */
  readonly elsewhere: RunningHttpUpstream;
  /** An address no DNS name points to: where a stolen credential would go. */
  readonly attacker: RunningHttpUpstream;
}

export interface SupportPod {
  readonly scenario: Scenario;
  readonly upstreams: Upstreams;
  /** The Zendesk token in the Secret: only the sidecar reads it, the agent never does. */
  readonly token: string;
  /** The address of `upstreams.attacker`. */
  readonly attackerIp: string;
}

/** Host numbers on the test side of the veth (netns.ts HOST_ADDRESSES). */
const IP = { zendesk: 10, mcp: 11, billing: 12, crm: 13, elsewhere: 14, slack: 15, web: 16, attacker: 66 } as const;

export interface SupportPodOptions {
  readonly slot: number;
  /** Jaeger's OTLP/HTTP receiver (loopback, root network namespace). */
  readonly otlp: { readonly host: string; readonly port: number };
}

export async function startSupportPod(o: SupportPodOptions): Promise<SupportPod> {
  const token = `zd-${randomBytes(12).toString('hex')}`;
  let upstreams: Upstreams | undefined;
  const otlpPort = o.otlp.port;
  const scenario = await startScenario({
    slot: o.slot,
    namespace: NAMESPACE,
    labels: exampleLabels(),
    annotations: { 'agentwarden.io/tls-origination': ZENDESK },
    inject: {
      sidecarEnv: [
        { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: `http://${hostIp(o.slot, 1)}:${otlpPort}` },
        { name: 'OTEL_EXPORTER_OTLP_PROTOCOL', value: 'http/protobuf' },
        { name: 'OTEL_BSP_SCHEDULE_DELAY', value: '200' },
        // Operation summaries for the baseline every second (the default is 30 s): baseline.ts.
        { name: 'AGENTWARDEN_ANOMALY_SUMMARY_INTERVAL', value: DEMO_SUMMARY_INTERVAL },
      ],
    },
    manifests: tenantManifests(token),
    // The API server calls the controller's AgentAccessRequest webhooks: they stamp who approved.
    // It writes the AgentBaseline every second (the default is 10 s).
    controller: { approvalWebhooks: { name: 'agentwarden-demo-approvals', namespace: NAMESPACE }, extraArgs: ['--baseline-write-interval', DEMO_BASELINE_WRITE_INTERVAL] },
    servers: async (net, caDir) => {
      const started = await startUpstreams(net, caDir);
      upstreams = started.upstreams;
      const otlp = await forwardTcp({ host: net.hostIp(1), port: otlpPort }, o.otlp);
      const closeOtlp = (): Promise<void> => new Promise((resolve) => { otlp.close(() => { resolve(); }); });
      return [...started.closers, closeOtlp];
    },
  });
  if (upstreams === undefined) throw new Error('support pod: the upstreams did not start');
  return { scenario, upstreams, token, attackerIp: scenario.network.hostIp(IP.attacker) };
}

function hostIp(slot: number, n: number): string {
  return `10.254.${slot}.${n}`;
}

async function startUpstreams(net: PodNetwork, caDir: string): Promise<{ upstreams: Upstreams; closers: (() => Promise<void>)[] }> {
  const at = (n: number, port: number): { host: string; port: number } => ({ host: net.hostIp(n), port });
  const closers: (() => Promise<void>)[] = [];
  const track = <T extends { close: () => Promise<void> }>(server: T): T => {
    closers.push(() => server.close());
    return server;
  };
  try {
    track(await startDnsServer({
      listen: [at(1, 53)],
      hosts: {
        [ZENDESK]: [net.hostIp(IP.zendesk)],
        [MCP_HOST]: [net.hostIp(IP.mcp)],
        'billing.internal': [net.hostIp(IP.billing)],
        'eu.crm.internal': [net.hostIp(IP.crm)],
        [SLACK]: [net.hostIp(IP.slack)],
        [WEB_MCP_HOST]: [net.hostIp(IP.web)],
        'api.stripe.com': [net.hostIp(IP.elsewhere)],
        'pastebin.com': [net.hostIp(IP.elsewhere)],
      },
    }));
    const upstreams: Upstreams = {
      zendesk: track(await startHttpsUpstream({ listen: [at(IP.zendesk, 443)], names: [ZENDESK], caDir })),
      mcp: track(await startMcpServer({ listen: [at(IP.mcp, 80)] })),
      billing: track(await startHttpUpstream({ listen: [at(IP.billing, 80)] })),
      crm: track(await startHttpUpstream({ listen: [at(IP.crm, 80)] })),
      slack: track(await startHttpUpstream({ listen: [at(IP.slack, 80)] })),
      web: track(await startMcpServer({ listen: [at(IP.web, 80)] })),
      elsewhere: track(await startHttpUpstream({ listen: [at(IP.elsewhere, 80)] })),
      attacker: track(await startHttpUpstream({ listen: [at(IP.attacker, 80), at(IP.attacker, 443)] })),
    };
    return { upstreams, closers };
  } catch (e: unknown) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw e;
  }
}

/** The example's Secret (with a fresh token) and its policies, as `kubectl apply -f policies/` would send them. */
function tenantManifests(token: string): string {
  const secret = `apiVersion: v1\nkind: Secret\nmetadata: {name: zendesk-api, namespace: ${NAMESPACE}, labels: {agentwarden.io/credential: "true"}}\nstringData: {token: ${token}}\n`;
  const dir = join(EXAMPLE, 'policies');
  const policies = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort().map((f) => readFileSync(join(dir, f), 'utf8'));
  return [secret, ...policies].join('\n---\n');
}

/** The labels of examples/support-agent/pod.yaml: what the example's policies select. */
function exampleLabels(): Record<string, string> {
  const file = join(EXAMPLE, 'pod.yaml');
  const pod = readYamlDocuments(file)[0];
  const labels = isPlain(pod) && isPlain(pod['metadata']) ? pod['metadata']['labels'] : undefined;
  if (!isPlain(labels)) throw new Error(`${file}: metadata.labels: missing`);
  return Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, String(v)]));
}
