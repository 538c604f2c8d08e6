// `agentwarden sidecar`: wires configuration, the policy source, the ext_authz
// server, the admin server and audit tracing, and shuts them down on SIGTERM.
import { readSidecarConfig, type SidecarConfig } from './config.js';
import { jsonLogger, type Logger } from './log.js';
import { PolicyState } from './state.js';
import { SidecarMetrics } from './metrics.js';
import { createAuditTracer, exporterFor, type AuditTracer } from './telemetry/tracing.js';
import { createCheckHandler } from './authz/handler.js';
import { startAuthzServer, type AuthzServer } from './authz/server.js';
import { startAdminServer, type AdminServer } from './admin/server.js';
import { compileLocal, watchPaths, type Watcher } from './standalone/source.js';
import { loadPod } from '../../policy/io/manifests.js';

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
  const state = new PolicyState();
  const metrics = new SidecarMetrics();
  const pod = loadPod(config.podFile ?? '');
  const exporter = config.otlpProtocol === undefined ? undefined : await exporterFor(config.otlpProtocol);
  const tracer = createAuditTracer(exporter, {
    'service.name': 'agentwarden-sidecar',
    'k8s.namespace.name': pod.namespace,
    'k8s.pod.name': pod.name,
    'k8s.serviceaccount.name': pod.serviceAccount,
  }, config.spanQueueSize, config.spanExportDelayMs);

  let lastError: string | undefined;
  const reload = (): void => {
    try {
      const next = compileLocal({ policyPaths: config.policyPaths, podFile: config.podFile ?? '', secretsDir: config.secretsDir });
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
  const watcher: Watcher = watchPaths([...config.policyPaths, config.podFile ?? '', ...(config.secretsDir === undefined ? [] : [config.secretsDir])], config.reloadDebounceMs, reload);

  const handler = createCheckHandler({ state, metrics, tracer, log, maxRequestBytes: config.maxRequestBytes, pod, clock: Date.now });
  const authz = await startAuthzServer(config.listen, handler, config.maxRequestBytes);
  const admin = await startAdminServer(config.adminListen, { state, metrics, spans: tracer.counters, lastError: () => lastError });
  log.log('info', 'sidecar listening', { extAuthz: authz.address, admin: admin.address, otlp: config.otlpProtocol ?? 'off' });
  return {
    config, authz, admin, state, tracer, reload,
    async stop(): Promise<void> {
      watcher.close();
      await authz.close();
      await admin.close();
      await tracer.shutdown();
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
