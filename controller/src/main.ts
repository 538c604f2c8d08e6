// `agentwarden controller`: informers for AgentPolicies, pods and Secrets; a
// snapshot per pod; PolicyDistribution to the sidecars; AgentPolicy.status and
// the CA root ConfigMaps written by the elected leader; metrics and health over HTTP.
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import express from 'express';
import type { Snapshot } from '../../proto/gen/agentwarden/v1/snapshot_pb.js';
import { readControllerConfig, type ControllerConfig } from './config.js';
import { connectKube, loadKubeConfig, PLURAL, GROUP, VERSION, type Kube } from './kube/api.js';
import { Informer, type InformerStats } from './kube/informer.js';
import { slimPod, slimSecret, type AgentPolicyObject, type SlimNamespace, type SlimPod, type SlimSecret } from './kube/objects.js';
import { connectCaRootApi, type CaRootApi } from './kube/ca-root-api.js';
import type { V1Pod, V1Secret } from '@kubernetes/client-node';
import { Debouncer } from './reconcile/debounce.js';
import { parsePolicies, SnapshotBook, type PolicyEntry } from './reconcile/snapshots.js';
import { SidecarAuthenticator } from './distribution/auth.js';
import { DistributionServer } from './distribution/server.js';
import { ReloadingServingCertificate, reloadingServerCredentials } from './distribution/certificates.js';
import { caRootFromCaches, type CaRootPublisher } from './caroot/index.js';
import { isLoopback } from '../../common/distribution-service.js';
import { computeStatus, sameStatus } from './status/compute.js';
import { LeaderElector } from './status/leader.js';
import { cachedNamespaceLabels, startWebhookServer, WebhookMetrics, type RunningWebhookServer } from './admission/index.js';
import { DEFAULT_INJECT_OPTIONS, parseInjectOptions, type InjectOptions } from './inject/index.js';
import { parse as parseYaml } from 'yaml';

type Log = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

const ORDER = { debug: 0, info: 1, warn: 2, error: 3 } as const;
function jsonLog(min: keyof typeof ORDER): Log {
  return (level, msg, fields = {}) => {
    if (ORDER[level] >= ORDER[min]) process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
  };
}

/** Stale beyond this, an informer makes /readyz fail. */
const MAX_STALE_MS = 5 * 60_000;

export interface RunningController {
  readonly distributionAddress: string;
  readonly metricsAddress: string;
  readonly webhookAddress: string | undefined;
  readonly distribution: DistributionServer;
  readonly informers: { readonly policies: Informer<AgentPolicyObject>; readonly pods: Informer<SlimPod>; readonly secrets: Informer<SlimSecret>; readonly namespaces: Informer<SlimNamespace> | undefined };
  /** The distribution port's certificate (re-read when its files change); undefined without TLS. */
  readonly distributionCertificate: ReloadingServingCertificate | undefined;
  /** Publishes --ca-root-file; undefined without it. */
  readonly caRoot: CaRootPublisher | undefined;
  stop(): Promise<void>;
}

/** `caRootApi` defaults to one on `kube`'s KubeConfig, made only when --ca-root-file is given. */
export async function startController(config: ControllerConfig, log: Log, kube: Kube = connectKube(loadKubeConfig(config.kubeconfig)), caRootApi?: CaRootApi): Promise<RunningController> {
  const book = new SnapshotBook();
  let entries: PolicyEntry[] = [];
  const snapshots = new Map<string, Snapshot>();
  let reconciles = 0;
  let lastStatusWrite = Promise.resolve();

  const informerLog = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void => { log(level, msg, fields); };
  const onChange = (): void => { debouncer.trigger(); };
  const policies = new Informer<AgentPolicyObject>({ name: PLURAL, path: `/apis/${GROUP}/${VERSION}/${PLURAL}`, list: () => kube.listPolicies(), watch: kube.watch, onChange, log: informerLog });
  // A pod labelled agentwarden.io/inject=enabled may need the CA root in its namespace.
  const pods = new Informer<SlimPod>({ name: 'pods', path: '/api/v1/pods', list: () => kube.listPods(), watch: kube.watch, onChange: () => { onChange(); caRoot?.trigger(); }, log: informerLog, transform: slimPodUnknown });
  const secrets = new Informer<SlimSecret>({ name: 'secrets', path: '/api/v1/secrets', list: () => kube.listSecrets(), watch: kube.watch, onChange, log: informerLog, transform: slimSecretUnknown });

  const auth = new SidecarAuthenticator((token, audiences) => kube.reviewToken(token, audiences), (ns, name) => pods.get(ns, name));
  const distribution = new DistributionServer(auth, (podKey) => snapshots.get(podKey) ?? computeFor(podKey), {
    onSyncChange: () => { statusDebouncer.trigger(); },
    onConnect: () => { statusDebouncer.trigger(); },
    log: (level, msg, fields) => { log(level, msg, fields); },
    serving: () => !config.leaderElect || leader.isLeader,
  });

  // Pods whose current inputs do not compile: they keep (and are not synced to) their last good snapshot.
  const stalePods = new Set<string>();
  // Nothing is sent before every cache has been listed and reconciled once: a snapshot
  // computed from half-filled caches could take rules away from a sidecar.
  let reconciled = false;

  function computeFor(podKey: string): Snapshot | undefined {
    if (!reconciled) return undefined;
    const [ns, name] = podKey.split('/');
    const pod = pods.get(ns, name ?? '');
    if (pod === undefined) return undefined;
    const result = book.forPod(pod, entries, (n, s) => secrets.get(n, s));
    if (!result.ok) {
      stalePods.add(podKey);
      log('warn', 'pod snapshot does not compile; the sidecar keeps its last good one', { pod: podKey, error: result.error });
      return undefined;
    }
    stalePods.delete(podKey);
    snapshots.set(podKey, result.snapshot);
    return result.snapshot;
  }

  const reconcile = (): void => {
    if (![policies, pods, secrets].every((i) => i.stats().synced)) return;
    reconciled = true;
    reconciles++;
    entries = parsePolicies(policies.list());
    book.beginPass();
    const connected = new Set(distribution.connectedPods());
    for (const podKey of connected) {
      const before = snapshots.get(podKey);
      snapshots.delete(podKey);
      // A pod whose new inputs fail to compile keeps the snapshot it has (fail closed, never open).
      if (computeFor(podKey) === undefined && before !== undefined) snapshots.set(podKey, before);
    }
    for (const key of [...snapshots.keys()]) if (!connected.has(key)) snapshots.delete(key);
    for (const key of [...stalePods]) if (!connected.has(key)) stalePods.delete(key);
    book.endPass();
    distribution.pushAll();
    statusDebouncer.trigger();
  };
  const debouncer = new Debouncer(config.debounceQuietMs, config.debounceMaxMs, reconcile);

  const writeStatuses = (): void => {
    if (config.leaderElect && !leader.isLeader) return;
    const nowIso = new Date().toISOString();
    const allPods = pods.list();
    const podSynced = (pod: SlimPod): boolean => {
      const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
      const want = snapshots.get(key)?.version;
      const sync = distribution.sync(key);
      return !stalePods.has(key) && want !== undefined && sync !== undefined && sync.acked === want;
    };
    // Each link catches its own failure, so one bad pass never stops later status writes.
    lastStatusWrite = lastStatusWrite.then(async () => {
      for (const entry of entries) {
        const status = computeStatus(entry, allPods, podSynced, nowIso);
        if (sameStatus(entry.object.status, status)) continue;
        const ns = entry.object.metadata?.namespace ?? '';
        const name = entry.object.metadata?.name ?? '';
        try {
          await kube.writeStatus(ns, name, status);
        } catch (e: unknown) {
          log('warn', 'status write failed; will retry on the next change', { policy: `${ns}/${name}`, error: e instanceof Error ? e.message : String(e) });
        }
      }
    }).catch((e: unknown) => {
      log('error', 'status pass failed', { error: e instanceof Error ? e.message : String(e) });
    });
  };
  const statusDebouncer = new Debouncer(250, 2000, writeStatuses);
  const leader = new LeaderElector(kube.coordination, { namespace: config.namespace, name: 'agentwarden-controller', identity: config.identity, log: (l, m, f) => { log(l, m, f); } }, (leading) => {
    statusDebouncer.trigger();
    caRoot?.leadershipChanged(leading);
    // A replica that stops leading hands its sidecars over: they reconnect to the new leader.
    if (!leading) distribution.closeAll('this controller replica is no longer the leader; reconnect');
  });

  // The CA root ConfigMaps: the namespaces and pods caches decide where; the leader writes.
  const { namespaces, publisher: caRoot } = config.caRoot === undefined ? {} : caRootFromCaches({
    config: config.caRoot, api: caRootApi ?? connectCaRootApi(kube.config), watch: kube.watch, pods, fileReloadMs: config.fileReloadMs,
    mayWrite: () => !config.leaderElect || leader.isLeader, log: (level, msg, fields) => { log(level, msg, fields); }, informerLog,
  });

  // gRPC distribution server: TLS (its certificate re-read when the files change), or plaintext on loopback only.
  const server = new grpc.Server({ 'grpc.max_send_message_length': 64 << 20, 'grpc.keepalive_time_ms': 30_000, 'grpc.keepalive_timeout_ms': 10_000 });
  distribution.register(server);
  let creds: grpc.ServerCredentials;
  let distributionCertificate: ReloadingServingCertificate | undefined;
  if (config.tlsCert !== undefined && config.tlsKey !== undefined) {
    distributionCertificate = new ReloadingServingCertificate({ certFile: config.tlsCert, keyFile: config.tlsKey, reloadMs: config.fileReloadMs, log: (level, msg, fields) => { log(level, msg, fields); } });
    creds = reloadingServerCredentials(distributionCertificate);
  } else {
    if (!isLoopback(config.distributionListen)) throw new Error(`controller: --distribution-listen ${config.distributionListen} is not loopback; give --tls-cert and --tls-key`);
    creds = grpc.ServerCredentials.createInsecure();
  }
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(config.distributionListen, creds, (err, p) => (err === null ? resolve(p) : reject(new Error(`controller: cannot listen on ${config.distributionListen}: ${err.message}`, { cause: err }))));
  }).catch((e: unknown) => {
    distributionCertificate?.close();
    throw e;
  });
  const distributionAddress = `${config.distributionListen.slice(0, config.distributionListen.lastIndexOf(':'))}:${port}`;

  // Admission webhooks: every replica serves them (the API server may call any).
  const webhookMetrics = new WebhookMetrics();
  let webhooks: RunningWebhookServer | undefined;
  if (config.webhookCert !== undefined && config.webhookKey !== undefined) {
    webhooks = await startWebhookServer({
      listen: config.webhookListen, certFile: config.webhookCert, keyFile: config.webhookKey, certReloadMs: config.fileReloadMs,
      inject: readInjectOptions(config.injectConfig),
      namespaceLabels: cachedNamespaceLabels((ns) => kube.namespaceLabels(ns)),
      log: (level, msg, fields) => { log(level, msg, fields); },
      metrics: webhookMetrics,
    });
  }

  policies.start();
  pods.start();
  secrets.start();
  namespaces?.start();
  caRoot?.start();
  if (config.leaderElect) leader.start();

  const app = express();
  app.disable('x-powered-by');
  // Readiness: the caches that serving sidecars and webhooks depend on. The namespaces cache
  // only feeds the CA root publisher; its staleness is in the metrics.
  const informerList = [policies, pods, secrets];
  const named: [string, { stats(): InformerStats }][] = [['agentpolicies', policies], ['pods', pods], ['secrets', secrets]];
  if (namespaces !== undefined) named.push(['namespaces', namespaces]);
  app.get('/healthz', (_req, res) => { res.type('text/plain').send('ok\n'); });
  app.get('/readyz', (_req, res) => {
    const problems = informerList.map((i, n) => ({ name: ['agentpolicies', 'pods', 'secrets'][n] ?? '', s: i.stats() })).filter(({ s }) => !s.synced || s.staleMs > MAX_STALE_MS);
    if (problems.length > 0) res.status(503).type('text/plain').send(`not ready: ${problems.map((p) => `${p.name} ${p.s.synced ? `stale for ${Math.round(p.s.staleMs / 1000)} s` : 'not synced'}`).join(', ')}\n`);
    else res.type('text/plain').send('ready\n');
  });
  app.get('/metrics', (_req, res) => {
    const lines: string[] = [];
    lines.push('# HELP agentwarden_informer_stale_seconds Time since the informer last heard from the API server.', '# TYPE agentwarden_informer_stale_seconds gauge');
    named.forEach(([name, i]) => lines.push(`agentwarden_informer_stale_seconds{resource="${name}"} ${(i.stats().staleMs / 1000).toFixed(3)}`));
    lines.push('# HELP agentwarden_informer_restarts_total Informer failures followed by a backoff and a restart.', '# TYPE agentwarden_informer_restarts_total counter');
    named.forEach(([name, i]) => lines.push(`agentwarden_informer_restarts_total{resource="${name}"} ${i.stats().restarts}`));
    lines.push('# HELP agentwarden_informer_relists_total Full lists (start, 410 Gone, periodic, watchdog).', '# TYPE agentwarden_informer_relists_total counter');
    named.forEach(([name, i]) => lines.push(`agentwarden_informer_relists_total{resource="${name}"} ${i.stats().relists}`));
    lines.push('# TYPE agentwarden_connected_sidecars gauge', `agentwarden_connected_sidecars ${distribution.connectionCount()}`);
    lines.push('# TYPE agentwarden_snapshot_pushes_total counter', `agentwarden_snapshot_pushes_total ${distribution.pushes}`);
    lines.push('# TYPE agentwarden_sidecar_auth_failures_total counter', `agentwarden_sidecar_auth_failures_total ${distribution.authFailures}`);
    lines.push('# TYPE agentwarden_token_reviews_total counter', `agentwarden_token_reviews_total ${auth.reviews}`);
    lines.push('# TYPE agentwarden_token_reviews_uncached_total counter', `agentwarden_token_reviews_uncached_total ${auth.uncached}`);
    lines.push('# TYPE agentwarden_reconciles_total counter', `agentwarden_reconciles_total ${reconciles}`);
    lines.push('# TYPE agentwarden_compiled_snapshots gauge', `agentwarden_compiled_snapshots ${book.size}`);
    lines.push('# TYPE agentwarden_leader gauge', `agentwarden_leader ${leader.isLeader ? 1 : 0}`);
    lines.push(...webhookMetrics.render());
    if (distributionCertificate !== undefined) {
      lines.push('# TYPE agentwarden_distribution_cert_reloads_total counter', `agentwarden_distribution_cert_reloads_total ${distributionCertificate.reloads}`);
      lines.push('# HELP agentwarden_distribution_cert_reload_failures_total Changed certificate files that could not be loaded (the previous pair is kept).', '# TYPE agentwarden_distribution_cert_reload_failures_total counter', `agentwarden_distribution_cert_reload_failures_total ${distributionCertificate.reloadFailures}`);
    }
    if (caRoot !== undefined) lines.push(...caRoot.renderMetrics());
    const mem = process.memoryUsage();
    lines.push('# TYPE process_resident_memory_bytes gauge', `process_resident_memory_bytes ${mem.rss}`);
    lines.push('# TYPE nodejs_heap_used_bytes gauge', `nodejs_heap_used_bytes ${mem.heapUsed}`);
    res.type('text/plain; version=0.0.4').send(`${lines.join('\n')}\n`);
  });
  const [mHost, mPort] = splitHostPort(config.metricsListen);
  const httpServer = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(mPort, mHost, (err?: Error) => (err === undefined ? resolve(s) : reject(err)));
  });
  const maddr = httpServer.address();
  const metricsAddress = `${mHost === '' ? '0.0.0.0' : mHost}:${maddr !== null && typeof maddr === 'object' ? maddr.port : mPort}`;
  log('info', 'controller started', { distribution: distributionAddress, metrics: metricsAddress, webhooks: webhooks?.address ?? 'off', identity: config.identity });

  return {
    distributionAddress,
    metricsAddress,
    webhookAddress: webhooks?.address,
    distribution,
    informers: { policies, pods, secrets, namespaces },
    distributionCertificate,
    caRoot,
    async stop(): Promise<void> {
      debouncer.cancel();
      statusDebouncer.cancel();
      await caRoot?.stop();
      await Promise.all([policies.stop(), pods.stop(), secrets.stop(), namespaces?.stop(), leader.stop()]);
      await lastStatusWrite;
      await webhooks?.close();
      server.forceShutdown();
      distributionCertificate?.close();
      await new Promise<void>((resolve) => { httpServer.close(() => { resolve(); }); httpServer.closeAllConnections(); });
    },
  };
}

/** Injection settings from --inject-config (YAML), errors naming the file and field. */
function readInjectOptions(file: string | undefined): InjectOptions {
  if (file === undefined) return DEFAULT_INJECT_OPTIONS;
  return parseInjectOptions(parseYaml(readFileSync(file, 'utf8')) as unknown, file);
}

function splitHostPort(listen: string): [string, number] {
  const colon = listen.lastIndexOf(':');
  return [listen.slice(0, colon).replace(/^\[|\]$/g, ''), Number(listen.slice(colon + 1))];
}

// Watch events carry whole objects; the caches keep slim ones.
function slimPodUnknown(o: unknown): SlimPod { return slimPod(o as V1Pod); }
function slimSecretUnknown(o: unknown): SlimSecret { return slimSecret(o as V1Secret); }

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
