// Which Secrets, and which of their keys, the controller holds. It lists and
// watches only Secrets labelled agentwarden.io/credential=true (users label their
// credential Secrets), and keeps of those only the keys some AgentPolicy's
// credentials[].secretRef names: a Secret or a key no policy refers to never
// stays in its memory.
import type { V1Secret } from '@kubernetes/client-node';
import { credentialSecret, type AgentPolicy } from '../../../policy/src/index.js';
import type { SlimSecret } from './objects.js';
import type { Refusal } from './budget.js';

/** Secret label: "true" lets the controller read the Secret as an AgentPolicy credential. */
export const CREDENTIAL_LABEL = 'agentwarden.io/credential';
/** The label selector of the secrets list and watch. */
export const CREDENTIAL_SELECTOR = `${CREDENTIAL_LABEL}=true`;

/** namespace/name of a Secret → the keys policies read from it. */
export type WantedKeys = ReadonlyMap<string, ReadonlySet<string>>;

/** The keys every policy's credentials read, by Secret. */
export function wantedKeys(policies: readonly AgentPolicy[]): WantedKeys {
  const wanted = new Map<string, Set<string>>();
  for (const p of policies) {
    for (const c of p.credentials) {
      const secret = credentialSecret(c);
      const id = `${p.namespace}/${secret.name}`;
      let keys = wanted.get(id);
      if (keys === undefined) wanted.set(id, (keys = new Set()));
      for (const k of secret.keys) keys.add(k);
    }
  }
  return wanted;
}

function sameWanted(a: WantedKeys, b: WantedKeys): boolean {
  if (a.size !== b.size) return false;
  for (const [id, keys] of a) {
    const other = b.get(id);
    if (other === undefined || other.size !== keys.size || [...keys].some((k) => !other.has(k))) return false;
  }
  return true;
}

/**
 * The key filter of the secrets cache. When the keys policies read change, the
 * cache is listed again with the new filter (a list of the labelled Secrets
 * only), and `follow` answers false until that list is in: a pass must not
 * compile from Secrets filtered for other policies. Between a change and that
 * list, watch events are already filtered the new way.
 */
export class CredentialKeys {
  private wanted: WantedKeys = new Map();
  private generation = 0;
  private listedGeneration = 0;

  /**
   * @param refetch lists the Secrets again (Informer.relist).
   * @param maxValueBytes a value policies read that is larger (decoded) is refused, not kept.
   */
  constructor(private readonly refetch: () => void, private readonly maxValueBytes = Number.POSITIVE_INFINITY) {}

  /** True when the cache holds exactly the keys `policies` read; otherwise starts a refetch. */
  follow(policies: readonly AgentPolicy[]): boolean {
    const next = wantedKeys(policies);
    if (!sameWanted(next, this.wanted)) {
      this.wanted = next;
      this.generation++;
      this.refetch();
      return false;
    }
    return this.listedGeneration === this.generation;
  }

  /** Wraps the list call, so that `follow` knows which filter the cache was filled with. */
  async list<T>(list: () => Promise<T>): Promise<T> {
    const generation = this.generation;
    const result = await list();
    this.listedGeneration = generation;
    return result;
  }

  /** The Secret with only the keys some policy reads, each no larger than maxValueBytes. */
  slim(secret: V1Secret): SlimSecret {
    const namespace = secret.metadata?.namespace ?? '';
    const name = secret.metadata?.name ?? '';
    const keys = this.wanted.get(`${namespace}/${name}`);
    const data: Record<string, string> = {};
    const refusedKeys: Record<string, Refusal> = {};
    for (const [k, v] of Object.entries(secret.data ?? {})) {
      if (keys?.has(k) !== true) continue;
      const bytes = decodedLength(v);
      if (bytes > this.maxValueBytes) {
        refusedKeys[k] = {
          reason: CREDENTIAL_TOO_LARGE, metric: 'value_too_large',
          message: `the value of key "${k}" is ${bytes} bytes, above the controller's --max-credential-value-bytes ${this.maxValueBytes}`,
        };
      } else {
        data[k] = v;
      }
    }
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace, resourceVersion: secret.metadata?.resourceVersion ?? '' },
      data,
      ...(Object.keys(refusedKeys).length === 0 ? {} : { refusedKeys }),
    };
  }

  /** Secrets and keys wanted now (for metrics). */
  stats(): { readonly secrets: number; readonly keys: number } {
    let keys = 0;
    for (const k of this.wanted.values()) keys += k.size;
    return { secrets: this.wanted.size, keys };
  }
}

/** Status reason of a credential value above --max-credential-value-bytes. */
export const CREDENTIAL_TOO_LARGE = 'CredentialTooLarge';

/** The bytes a base64 value decodes to. */
function decodedLength(base64: string): number {
  const padding = base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0;
  return Math.floor((base64.length * 3) / 4) - padding;
}

/** Why a credential cannot be resolved: the status reason (CredentialUnavailable, or the limit's) and words a user can act on. */
export interface CredentialProblem {
  readonly reason: string;
  readonly message: string;
}

/**
 * Why each credential of `policy` cannot be resolved from the cache; empty when
 * all can. The cache holds only labelled Secrets, so a missing Secret and an
 * unlabelled one look the same from here.
 */
export function credentialProblems(policy: AgentPolicy, secret: (namespace: string, name: string) => SlimSecret | undefined): CredentialProblem[] {
  return policy.credentials.flatMap((c) => {
    const wanted = credentialSecret(c);
    const id = `${policy.namespace}/${wanted.name}`;
    const s = secret(policy.namespace, wanted.name);
    const unavailable = (message: string): CredentialProblem[] => [{ reason: 'CredentialUnavailable', message }];
    if (s === undefined) {
      return unavailable(`credential "${c.name}" unavailable: Secret ${id} is not among the Secrets labelled ${CREDENTIAL_SELECTOR} (create it, or label it: kubectl label secret -n ${policy.namespace} ${wanted.name} ${CREDENTIAL_SELECTOR})`);
    }
    for (const key of wanted.keys) {
      const refused = s.refused ?? s.refusedKeys?.[key];
      if (refused !== undefined) return [{ reason: refused.reason, message: `credential "${c.name}" refused: Secret ${id}: ${refused.message}` }];
      if (s.data[key] === undefined) return unavailable(`credential "${c.name}" unavailable: Secret ${id} has no key "${key}"`);
    }
    return [];
  });
}
