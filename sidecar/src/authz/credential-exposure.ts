// Who may read the credentials a Check answer carries. An allow injects the
// rule's credential header into Envoy's OkHttpResponse, so whoever can call
// Check can read every credential of the snapshot. On a Unix socket in a volume
// that only Envoy and the sidecar mount, that is Envoy. On TCP, loopback
// included, it is every process of the pod, the agent first: a snapshot that
// carries a credential is refused there unless the operator said otherwise.
import type { LoadedSnapshot } from '../../../policy/src/index.js';

export interface CredentialExposureOptions {
  /** The ext_authz listen address ("host:port" or "unix:/path"). */
  readonly listen: string;
  /** --allow-tcp-credentials: serve credentials on a TCP address anyway. Default false. */
  readonly allowTcpCredentials: boolean;
}

/** Why `loaded` must not be served on `options.listen`, or undefined when it may. */
export function credentialExposure(loaded: LoadedSnapshot, options: CredentialExposureOptions): string | undefined {
  if (options.listen.startsWith('unix:') || options.allowTcpCredentials) return undefined;
  const carried = loaded.snapshot.credentials.filter((c) => c.value.length > 0);
  if (carried.length === 0) return undefined;
  const names = carried.map((c) => `${c.policy}/${c.name}`).join(', ');
  return `snapshot ${loaded.version} carries credentials (${names}) but ext_authz listens on TCP ${options.listen}, `
    + 'where every process in the pod can call Check and read them: listen on unix:/path (the default), '
    + 'or pass --allow-tcp-credentials where nothing but Envoy can reach that address';
}
