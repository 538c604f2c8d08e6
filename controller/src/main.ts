// `agentwarden controller`: wires the informers for AgentPolicies,
// ClusterAgentPolicies, namespace labels, pods and Secrets to the reconciler (a
// snapshot per pod), PolicyDistribution to the sidecars, the status writer and the CA root publisher (the elected leader
// writes), AgentAccessRequests (grants in snapshots, requests from sidecars,
// expiry, notifications), the admission webhooks, and metrics and health over HTTP.
// Every replica serves sidecars and publishes what they acknowledged in its report
// Lease (controller/src/replicas); the leader writes status from all of them.
import { readFileSync } from 'node:fs';
import type { V1Pod, V1Secret } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { readControllerConfig, type ControllerConfig } from './config.js';
import { jsonLog, type Log } from './log.js';
import { connectKube, loadKubeConfig, PLURAL, GROUP, VERSION, type Kube } from './kube/api.js';
import { Informer } from './kube/informer.js';
import { POD_SELECTOR, slimPod, type AgentPolicyObject, type SlimNamespace, type SlimPod, type SlimSecret } from './kube/objects.js';
import { CREDENTIAL_SELECTOR, CredentialKeys } from './kube/credentials.js';
import { limitPolicy, policyBudget, secretBudget } from './kube/limits.js';
import { connectCaRootApi, type CaRootApi } from './kube/ca-root-api.js';
import { Debouncer } from './reconcile/debounce.js';
import { Reconciler } from './reconcile/reconciler.js';
import { SidecarAuthenticator } from './distribution/auth.js';
import { DistributionServer } from './distribution/server.js';
import { startDistribution } from './distribution/listen.js';
import type { ReloadingServingCertificate } from './distribution/certificates.js';
import { PodSyncMetrics } from './observe/sync-metrics.js';
import { CertificateExpiryMetrics } from './observe/certificates.js';
import { caRootFromCaches, type CaRootPublisher } from './caroot/index.js';
import { LeaderElector } from './status/leader.js';
import { StatusWriter } from './status/writer.js';
import { freshNamespaceLabels, policiesInScopeOf, startWebhookServer, WebhookMetrics, type RunningWebhookServer } from './admission/index.js';
import { DEFAULT_INJECT_OPTIONS, parseInjectOptions, type InjectOptions } from './inject/index.js';
import { startObserveServer } from './observe/http.js';
import type { NamedInformer } from './observe/metrics.js';
import { syncReport } from './observe/syncz.js';
import { clusterPolicyCaches, connectClusterPolicyApi, type ClusterPolicyApi } from './cluster/index.js';
import { approvals as approvalsFromCaches, connectApprovalApi, type AccessRequestObject, type ApprovalApi } from './approvals/index.js';
import { baselines as baselinesFromCaches, connectBaselineApi, DEFAULT_BASELINE_LIMITS, type BaselineApi, type Baselines } from './baselines/index.js';
import { startTokenBroker, tokenDemand, type TokenBroker } from './oauth/index.js';
import { replicas as replicasOf, type LiveReport, type Replicas } from './replicas/index.js';
import { RuntimeMetrics } from './observe/runtime.js';
import { PushQueueMetrics } from './distribution/push-queue.js';

export interface RunningController {
  readonly distributionAddress: string;
  readonly metricsAddress: string;
  readonly webhookAddress: string | undefined;
  readonly distribution: DistributionServer;
  readonly informers: { readonly policies: Informer<AgentPolicyObject>; readonly pods: Informer<SlimPod>; readonly secrets: Informer<SlimSecret>; readonly namespaces: Informer<SlimNamespace> | undefined; readonly accessRequests: Informer<AccessRequestObject> };
  /** The distribution port's certificate (re-read when its files change); undefined without TLS. */
  readonly distributionCertificate: ReloadingServingCertificate | undefined;
  /** Publishes --ca-root-file; undefined without it. */
  readonly caRoot: CaRootPublisher | undefined;
  /** Behaviour baselines (issue 17): AgentBaselines, summaries from the sidecars. */
  readonly baselines: Baselines;
  /** Brokered OAuth tokens (DESIGN.md "Brokered OAuth credentials"). */
  readonly tokens: TokenBroker;
  /** Replica reports (issue 20); undefined without leader election (one replica). */
  readonly replicas: Replicas | undefined;
  stop(): Promise<void>;
}

/**
 * `caRootApi` defaults to one on `kube`'s KubeConfig, made only when --ca-root-file is given;
 * `clusterApi` (ClusterAgentPolicies and namespace labels) and `approvalApi` (AgentAccessRequests,
 * Events, the notification Secret) to ones on `kube`'s KubeConfig.
 */
export async function startController(config: ControllerConfig, log: Log, kube: Kube = connectKube(loadKubeConfig(config.kubeconfig), config.cacheLimits.listPageSize), caRootApi?: CaRootApi, clusterApi?: ClusterPolicyApi, approvalApi?: ApprovalApi, baselineApi?: BaselineApi): Promise<RunningController> {
  const informerLog = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void => { log(level, msg, fields); };
  const onChange = (): void => { debouncer.trigger(); };
  // What a namespace may make the controller hold is bounded (kube/limits.ts): over a limit, a stub says why.
  const limits = config.cacheLimits;
  const keepPolicy = (o: AgentPolicyObject): AgentPolicyObject => limitPolicy(o, limits.maxPolicyBytes);
  const policyCharges = policyBudget(limits);
  const policies = new Informer<AgentPolicyObject>({
    name: PLURAL, path: `/apis/${GROUP}/${VERSION}/${PLURAL}`, list: () => kube.listPolicies(keepPolicy), watch: kube.watch, onChange, log: informerLog,
    transform: (o) => keepPolicy(o as AgentPolicyObject), budget: policyCharges,
  });
  // ClusterAgentPolicies and the namespace labels their namespaceSelectors read.
  const clusterPolicyApi = clusterApi ?? connectClusterPolicyApi(kube.config, GROUP, VERSION);
  const cluster = clusterPolicyCaches({ api: clusterPolicyApi, watch: kube.watch, apiPath: `/apis/${GROUP}/${VERSION}`, onChange, log: informerLog });
  // A pod labelled agentwarden.io/inject=enabled may need the CA root in its namespace.
  const pods = new Informer<SlimPod>({
    name: 'pods', path: '/api/v1/pods', selector: POD_SELECTOR, list: () => kube.listPods(), watch: kube.watch,
    // A deleted or replaced pod's stream ends at once (distribution/server.ts).
    onChange: () => { onChange(); caRoot?.trigger(); distribution.podsChanged(); }, log: informerLog, transform: (o) => slimPod(o as V1Pod),
  });
  // Only Secrets labelled agentwarden.io/credential=true, with only the keys policies read.
  const credentialKeys = new CredentialKeys(() => { secrets.relist(); }, limits.maxCredentialValueBytes);
  const secretCharges = secretBudget(limits);
  const secrets: Informer<SlimSecret> = new Informer<SlimSecret>({
    name: 'secrets', path: '/api/v1/secrets', selector: { labelSelector: CREDENTIAL_SELECTOR }, list: () => credentialKeys.list(() => kube.listSecrets((s) => credentialKeys.slim(s))),
    watch: kube.watch, onChange, log: informerLog, transform: (o) => credentialKeys.slim(o as V1Secret), budget: secretCharges,
  });

  // AgentAccessRequests: grants in the pods' snapshots, requests from the sidecars, expiry.
  const approvalKube = approvalApi ?? connectApprovalApi(kube.config, GROUP, VERSION, limits.listPageSize);
  const approvals = approvalsFromCaches({
    options: config.approvals, limits, api: approvalKube, watch: kube.watch, apiPath: `/apis/${GROUP}/${VERSION}`, pods,
    snapshotFor: (podKey) => reconciler.snapshotFor(podKey), mayWrite: () => !config.leaderElect || leader.isLeader,
    onChange, log: (level, msg, fields) => { log(level, msg, fields); }, informerLog,
  });

  // Brokered OAuth tokens: every change recompiles (the snapshots carry the tokens). Every
  // replica serves sidecars, so every replica fetches the tokens its policies' pods use: a
  // sidecar that moves to another replica finds its tokens there (no gap), at the cost of one
  // fetch per replica and token lifetime (tokens never leave the process that fetched them).
  const tokens = startTokenBroker(config.oauth, (ns, name) => secrets.get(ns, name), {
    mayFetch: () => true, onChange, log: (level, msg, fields) => { log(level, msg, fields); },
  });

  // Behaviour baselines: summaries in, AgentBaselines written by the replica each summary reached (on top of the version read), baselines back in snapshots.
  const baselines = baselinesFromCaches({
    api: baselineApi ?? connectBaselineApi(kube.config, GROUP, VERSION, limits.listPageSize),
    createEvent: (e) => approvalKube.createEvent(e), watch: kube.watch, apiPath: `/apis/${GROUP}/${VERSION}`, pods,
    snapshotFor: (podKey) => reconciler.snapshotFor(podKey), mayWrite: () => !config.leaderElect || leader.isLeader, onChange,
    writeIntervalMs: config.baselineWriteIntervalMs, limits: { ...DEFAULT_BASELINE_LIMITS, maxOperations: config.maxBaselineOperations },
    log: (level, msg, fields) => { log(level, msg, fields); }, informerLog,
  });

  const auth = new SidecarAuthenticator((token, audiences) => kube.reviewToken(token, audiences), (ns, name) => pods.get(ns, name));
  const distribution: DistributionServer = new DistributionServer(auth, (podKey) => reconciler.snapshotFor(podKey), {
    onSyncChange: () => { statusDebouncer.trigger(); replicaSet?.publisher.changed(); },
    onConnect: () => { statusDebouncer.trigger(); replicaSet?.publisher.changed(); },
    log: (level, msg, fields) => { log(level, msg, fields); },
    // Every replica serves sidecars (issue 20): the leader counts the others' through their reports.
    onApprovalNeeded: (podKey, message) => { void approvals.requests.approvalNeeded(podKey, message); },
    onGrantUsed: (podKey, message) => { void approvals.requests.grantUsed(podKey, message); },
    onOperationSummary: (podKey, message) => { baselines.summary(podKey, message); },
  }, { maxConcurrent: config.maxConcurrentPushes });
  const reconciler: Reconciler = new Reconciler({
    policies: cluster.withNamespaced(policies), pods, secrets,
    namespaceLabels: cluster.namespaceLabels,
    connectedPods: () => distribution.connectedPods(),
    pushAll: () => { distribution.pushAll(); },
    onReconciled: () => { statusDebouncer.trigger(); replicaSet?.publisher.changed(); tokens.setDemand(tokenDemand(reconciler.policyEntries(), pods.list(), cluster.namespaceLabels)); },
    log: (level, msg, fields) => { log(level, msg, fields); },
    secretsFollow: (parsed) => credentialKeys.follow(parsed),
    grants: (pod) => approvals.grantsFor(pod),
    grantsSynced: () => approvals.informer.stats().synced,
    tokens: { resolve: tokens.lease, revisions: (ns, policy) => tokens.revisions(ns, policy) },
    decorate: (pod, snapshot) => baselines.decorate(pod, snapshot),
  });
  const debouncer = new Debouncer(config.debounceQuietMs, config.debounceMaxMs, () => { reconciler.reconcile(); });

  const statusWriter = new StatusWriter({
    mayWrite: () => !config.leaderElect || leader.isLeader,
    entries: () => reconciler.policyEntries(),
    pods: () => pods.list(),
    // Synced on this replica's stream, or on the live replica that serves the pod (its report).
    podSynced: (pod, entry) => reconciler.podSynced(pod, (key) => distribution.sync(key))
      || (replicaSet !== undefined && replicaSet.syncedElsewhere(liveReports, `${pod.metadata.namespace}/${pod.metadata.name}`, entry)),
    secret: (ns, name) => secrets.get(ns, name),
    tokens: (ns, name) => tokens.statuses(ns, name),
    namespaceLabels: cluster.namespaceLabels,
    // Namespace "": a ClusterAgentPolicy.
    write: (ns, name, status) => (ns === '' ? clusterPolicyApi.writeClusterStatus(name, status) : kube.writeStatus(ns, name, status)),
    log: (level, msg, fields) => { log(level, msg, fields); },
  });
  // The other replicas' live reports, read once per status pass.
  let liveReports: readonly LiveReport[] = [];
  const statusDebouncer = new Debouncer(250, 2000, () => {
    if (replicaSet !== undefined && (!config.leaderElect || leader.isLeader)) liveReports = replicaSet.live();
    statusWriter.pass();
  });
  const leader = new LeaderElector(kube.coordination, { namespace: config.namespace, name: 'agentwarden-controller', identity: config.identity, log: (l, m, f) => { log(l, m, f); } }, (leading) => {
    statusDebouncer.trigger();
    caRoot?.leadershipChanged(leading);
    tokens.leadershipChanged(leading);
    // A replica that stops leading keeps serving its sidecars: only status and the other leader-only writes move.
  });

  // With leader election there may be other replicas: each publishes what its sidecars
  // acknowledged in its report Lease; the leader writes status from all of them.
  const replicaSet: Replicas | undefined = !config.leaderElect ? undefined : replicasOf({
    coordination: kube.coordination, watch: kube.watch, namespace: config.namespace, identity: config.identity,
    podStates: () => reconciler.podSyncStates((key) => distribution.sync(key)), policies: () => reconciler.policyEntries(),
    onChange: () => { statusDebouncer.trigger(); }, log: (l, m, f) => { log(l, m, f); }, informerLog,
  });

  // The CA root ConfigMaps: the namespaces and pods caches decide where; the leader writes.
  const { namespaces, publisher: caRoot } = config.caRoot === undefined ? {} : caRootFromCaches({
    config: config.caRoot, api: caRootApi ?? connectCaRootApi(kube.config), watch: kube.watch, pods, fileReloadMs: config.fileReloadMs,
    mayWrite: () => !config.leaderElect || leader.isLeader, log: (level, msg, fields) => { log(level, msg, fields); }, informerLog,
  });

  const { server, distributionAddress, distributionCertificate } = await startDistribution(config, distribution, log);

  // Admission webhooks: every replica serves them (the API server may call any).
  const webhookMetrics = new WebhookMetrics();
  const runtimeMetrics = new RuntimeMetrics();
  let webhooks: RunningWebhookServer | undefined;
  if (config.webhookCert !== undefined && config.webhookKey !== undefined) {
    webhooks = await startWebhookServer({
      listen: config.webhookListen, certFile: config.webhookCert, keyFile: config.webhookKey, certReloadMs: config.fileReloadMs,
      inject: readInjectOptions(config.injectConfig),
      namespaceLabels: freshNamespaceLabels((ns) => kube.namespaceLabels(ns), { timeoutMs: config.namespaceReadTimeoutMs }),
      log: (level, msg, fields) => { log(level, msg, fields); },
      metrics: webhookMetrics,
      accessRequests: { options: config.approvals, pod: (ns, name) => approvalKube.readPod(ns, name) },
      policiesInScope: policiesInScopeOf(() => cluster.withNamespaced(policies).list()),
    });
  }

  policies.start();
  pods.start();
  secrets.start();
  namespaces?.start();
  cluster.clusterPolicies.start();
  cluster.namespaces.start();
  approvals.start();
  baselines.start();
  caRoot?.start();
  if (config.leaderElect) leader.start();
  replicaSet?.start();

  // Readiness: the caches that serving sidecars and webhooks depend on. The namespaces cache
  // only feeds the CA root publisher; its staleness is in the metrics.
  const ready: NamedInformer[] = [['agentpolicies', policies], ['pods', pods], ['secrets', secrets], ['clusteragentpolicies', cluster.clusterPolicies], ['namespace-labels', cluster.namespaces], ['agentaccessrequests', approvals.informer]];
  const observe = await startObserveServer({
    listen: config.metricsListen,
    readyInformers: ready,
    syncz: () => syncReport(distribution.syncAll(), new Map(reconciler.podSyncStates((key) => distribution.sync(key)).map((p) => [p.pod, p.state])), { identity: config.identity, leader: !config.leaderElect || leader.isLeader }, Date.now(), replicaSet?.live() ?? []),
    metrics: {
      informers: () => (namespaces === undefined ? ready : [...ready, ['namespaces', namespaces]]),
      distribution, auth, reconciler, credentialKeys,
      budgets: [policyCharges, secretCharges, approvals.budget],
      isLeader: () => leader.isLeader,
      extra: [webhookMetrics, approvals.metrics, tokens, { render: () => baselines.renderMetrics() }, ...(replicaSet === undefined ? [] : [{ render: () => replicaSet.renderMetrics() }]), ...(caRoot === undefined ? [] : [{ render: () => caRoot.renderMetrics() }]),
        new PodSyncMetrics({ podSyncStates: () => reconciler.podSyncStates((key) => distribution.sync(key)), get compileFailures() { return reconciler.compileFailures; } }),
        new CertificateExpiryMetrics([
          ...(webhooks === undefined ? [] : [{ name: 'webhook', pem: webhooks.certificate }]),
          ...(distributionCertificate === undefined ? [] : [{ name: 'distribution', pem: () => distributionCertificate.certificate }]),
        ]), runtimeMetrics, new PushQueueMetrics(distribution.pushQueue, config.maxConcurrentPushes)],
      distributionCertificate,
    },
  });
  log('info', 'controller started', { distribution: distributionAddress, metrics: observe.address, webhooks: webhooks?.address ?? 'off', identity: config.identity });

  return {
    distributionAddress,
    metricsAddress: observe.address,
    webhookAddress: webhooks?.address,
    distribution,
    informers: { policies, pods, secrets, namespaces, accessRequests: approvals.informer },
    distributionCertificate,
    caRoot,
    baselines,
    tokens,
    replicas: replicaSet,
    async stop(): Promise<void> {
      tokens.stop();
      debouncer.cancel();
      statusDebouncer.cancel();
      await caRoot?.stop();
      // The report Lease goes first: this replica's pods count as not synced until they reconnect elsewhere.
      await replicaSet?.stop();
      await Promise.all([policies.stop(), pods.stop(), secrets.stop(), namespaces?.stop(), cluster.clusterPolicies.stop(), cluster.namespaces.stop(), approvals.stop(), baselines.stop(), leader.stop()]);
      await statusWriter.idle();
      await webhooks?.close();
      server.forceShutdown();
      distribution.stop();
      distributionCertificate?.close();
      await observe.close();
      runtimeMetrics.stop();
    },
  };
}

/** Injection settings from --inject-config (YAML), errors naming the file and field. */
function readInjectOptions(file: string | undefined): InjectOptions {
  if (file === undefined) return DEFAULT_INJECT_OPTIONS;
  return parseInjectOptions(parseYaml(readFileSync(file, 'utf8')) as unknown, file);
}

/** Entry point of `agentwarden controller`. */
export async function controllerCommand(argv: readonly string[]): Promise<number> {
  const config = readControllerConfig(argv, process.env);
  const log = jsonLog(config.logLevel);
  const running = await startController(config, log);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  log('info', 'shutting down');
  await running.stop();
  return 0;
}
