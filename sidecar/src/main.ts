// `agentwarden sidecar`: wires configuration, the policy source, the ext_authz
// server, the admin server and audit tracing, and shuts them down on SIGTERM.
import { readSidecarConfig, type SidecarConfig } from './config.js';
import { jsonLogger, type Logger } from './log.js';
import { PolicyState } from './state.js';
import { SidecarMetrics } from './metrics.js';
import { startRuntimeMetrics } from './telemetry/runtime-metrics.js';
import { createAuditTracer, type AuditTracer } from './telemetry/tracing.js';
import { createCheckHandler, type AnomalyEvents, type GrantEvents } from './authz/handler.js';
import type { SidecarMessage } from '../../proto/gen/agentwarden/v1/distribution_pb.js';
import { startAuthzServer, type AuthzServer } from './authz/server.js';
import { startAdminServer, type AdminServer } from './admin/server.js';
import { credentialExposure } from './authz/credential-exposure.js';
import { loadSnapshot } from '../../policy/src/index.js';

export const SIDECAR_VERSION = '0.1.0';

export interface RunningSidecar {
  readonly config: SidecarConfig;
  readonly authz: AuthzServer;
  readonly admin: AdminServer;
  readonly state: PolicyState;
  readonly tracer: AuditTracer;
  /** Re-reads the policy files now (what a file change triggers). */
  reload(): void;
  stop(): Promise<void>;
}

export async function startSidecar(config: SidecarConfig, log: Logger): Promise<RunningSidecar> {
  const state = new PolicyState({ maxSessions: config.maxSessions, maxTaintsPerSession: config.maxTaintsPerSession }, { maxOperations: config.maxBaselineOperations, summaries: config.controller !== undefined });
  const metrics = new SidecarMetrics();
  startRuntimeMetrics({ gc: config.gcMetrics });
  metrics.anomalyStats = () => state.anomalies.stats();
  // A snapshot whose credentials any process of the pod could read is not installed (authz/credential-exposure.ts).
  const exposure = { listen: config.listen, allowTcpCredentials: config.allowTcpCredentials };
  const pod = config.podFile === undefined
    ? { namespace: config.namespace, name: config.podName, serviceAccount: '', labels: {} }
    // Each mode loads only its own source: standalone the YAML reader, controller mode grpc-js.
    : (await import('../../policy/io/manifests.js')).loadPod(config.podFile);
  let lastExportFailureLog = 0;
  const tracer = await createAuditTracer({
    protocol: config.otlpProtocol,
    serializer: config.otlpSerializer,
    queue: config.spanQueue,
    transport: config.otlpTransport,
    ...(config.otlpHttp === undefined ? {} : { otlpHttp: config.otlpHttp }),
    resource: {
      'service.name': 'agentwarden-sidecar',
      'k8s.namespace.name': pod.namespace,
      'k8s.pod.name': pod.name,
      ...(pod.serviceAccount === '' ? {} : { 'k8s.serviceaccount.name': pod.serviceAccount }),
    },
    maxQueue: config.spanQueueSize,
    batchSize: config.spanExportBatchSize,
    delayMs: config.spanExportDelayMs,
    onExportFailure: (error, spans) => {
      // At most one line a minute: a collector that is down fails every batch.
      if (Date.now() - lastExportFailureLog < 60_000) return;
      lastExportFailureLog = Date.now();
      log.log('warn', 'audit span export failed; the spans are dropped and counted in agentwarden_spans_dropped_total', { error: error?.message ?? 'unknown', spans });
    },
  });

  let lastError: string | undefined;
  let lastErrorOf: () => string | undefined = () => undefined;
  let source: { reload(): void; stop(): Promise<void>; status(): string };
  let grantEvents: GrantEvents | undefined;
  let anomalyEvents: AnomalyEvents | undefined;
  if (config.controller === undefined) {
    const { compileLocal, watchPaths } = await import('./standalone/source.js');
    const reload = (): void => {
      try {
        const next = compileLocal({ policyPaths: config.policyPaths, podFile: config.podFile ?? '', secretsDir: config.secretsDir });
        const refused = credentialExposure(next, exposure);
        if (refused !== undefined) throw new Error(refused);
        const changed = state.snapshot?.version !== next.version;
        state.install(next);
        lastError = undefined;
        if (changed) log.log('info', 'policy snapshot loaded', { version: next.version, policies: next.snapshot.policies.map((p) => p.name), rules: next.rules.length });
      } catch (e: unknown) {
        metrics.reloadErrors++;
        lastError = e instanceof Error ? e.message : String(e);
        log.log('error', state.snapshot === undefined ? 'policy load failed; denying every request' : 'policy reload failed; keeping the last good snapshot', { error: lastError, version: state.snapshot?.version });
      }
    };
    reload();
    const watcher = watchPaths([...config.policyPaths, config.podFile ?? '', ...(config.secretsDir === undefined ? [] : [config.secretsDir])], config.reloadDebounceMs, reload);
    source = { reload, stop: () => { watcher.close(); return Promise.resolve(); }, status: () => 'standalone' };
  } else {
    const { DistributionClient } = await import('./distribution/client.js');
    const { GrantOutbox } = await import('./distribution/grant-outbox.js');
    const { SummaryOutbox, DEFAULT_MAX_SUMMARY_ANOMALIES } = await import('./anomaly/summaries.js');
    let send: (message: SidecarMessage) => boolean = () => false;
    const outbox = new GrantOutbox({ send: (m) => send(m), drainUsed: () => state.grants.drainUsed(), clock: Date.now });
    grantEvents = outbox;
    metrics.grantOutbox = outbox.counters;
    const client = new DistributionClient({
      onStreamUp: () => { outbox.streamUp(); },
      address: config.controller, tokenFile: config.tokenFile, namespace: config.namespace, podName: config.podName,
      caFile: config.controllerCa, sidecarVersion: SIDECAR_VERSION, log,
      currentVersion: () => state.snapshot?.version ?? '',
      install: (snapshot) => {
        try {
          const loaded = loadSnapshot(snapshot, { podName: config.podName, tokenFirstSeen: state.tokenFirstSeen, heldToken: state.heldToken });
          const refused = credentialExposure(loaded, exposure);
          if (refused !== undefined) {
            metrics.reloadErrors++;
            log.log('error', 'policy snapshot refused', { error: refused });
            return refused;
          }
          if (state.snapshot?.version !== loaded.version) log.log('info', 'policy snapshot received', { version: loaded.version, rules: loaded.rules.length });
          state.install(loaded);
          return undefined;
        } catch (e: unknown) {
          metrics.reloadErrors++;
          return e instanceof Error ? e.message : String(e);
        }
      },
    });
    send = (m) => client.send(m);
    // Behaviour baselines (issue 17): what the agent did, to the controller every interval.
    const summaries = new SummaryOutbox({ send: (m) => client.send(m), streamUp: () => client.state === 'synced', detector: state.anomalies, clock: Date.now }, { intervalMs: config.anomalySummaryIntervalMs, maxAnomalies: DEFAULT_MAX_SUMMARY_ANOMALIES });
    anomalyEvents = summaries;
    summaries.start();
    client.start();
    metrics.controllerState = () => client.state;
    source = {
      reload: () => undefined,
      stop: () => { summaries.stop(); return client.stop(); },
      status: () => `controller ${config.controller ?? ''}: ${client.state}${client.lastError === undefined ? '' : ` (${client.lastError})`}`,
    };
    lastErrorOf = () => client.lastError;
  }
  const handler = createCheckHandler({ state, metrics, tracer, log, maxRequestBytes: config.maxRequestBytes, pod, clock: Date.now, ...(grantEvents === undefined ? {} : { grantEvents }), ...(anomalyEvents === undefined ? {} : { anomalyEvents }) });
  const authz = await startAuthzServer(config.listen, handler, config.maxRequestBytes, { impl: config.grpcImpl });
  const admin = await startAdminServer(config.adminListen, {
    state, metrics, spans: tracer.counters, authz: () => authz.stats(), debugSnapshot: config.debugSnapshot,
    lastError: () => lastErrorOf() ?? lastError, source: () => source.status(),
  });
  log.log('info', 'sidecar listening', { extAuthz: authz.address, grpcImpl: config.grpcImpl, admin: admin.address, otlp: config.otlpProtocol ?? 'off' });
  return {
    config, authz, admin, state, tracer, reload: () => { source.reload(); },
    async stop(): Promise<void> {
      await source.stop();
      await authz.close();
      await admin.close();
      // A collector that is gone must not turn a clean shutdown into a failure.
      await tracer.shutdown().catch((e: unknown) => {
        log.log('warn', 'audit spans not flushed at shutdown', { error: e instanceof Error ? e.message : String(e), dropped: tracer.counters.dropped });
      });
    },
  };
}

/** Entry point of `agentwarden sidecar`. */
export async function sidecarCommand(argv: readonly string[]): Promise<number> {
  const config = readSidecarConfig(argv, process.env);
  const log = jsonLogger(config.logLevel);
  const running = await startSidecar(config, log);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  log.log('info', 'shutting down');
  await running.stop();
  return 0;
}
