// Which Secrets, and which of their keys, the controller holds. It lists and
// watches only Secrets labelled agentwarden.io/credential=true (users label their
// credential Secrets), and keeps of those only the keys some AgentPolicy's
// credentials[].secretRef names: a Secret or a key no policy refers to never
// stays in its memory.
import type { V1Secret } from '@kubernetes/client-node';
import type { AgentPolicy } from '../../../policy/src/index.js';
import type { SlimSecret } from './objects.js';

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
      const id = `${p.namespace}/${c.secretRef.name}`;
      let keys = wanted.get(id);
      if (keys === undefined) wanted.set(id, (keys = new Set()));
      keys.add(c.secretRef.key);
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

  /** @param refetch lists the Secrets again (Informer.relist). */
  constructor(private readonly refetch: () => void) {}

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

  /** The Secret with only the keys some policy reads. */
  slim(secret: V1Secret): SlimSecret {
    const namespace = secret.metadata?.namespace ?? '';
    const name = secret.metadata?.name ?? '';
    const keys = this.wanted.get(`${namespace}/${name}`);
    const data = Object.entries(secret.data ?? {}).filter(([k]) => keys?.has(k) === true);
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace, resourceVersion: secret.metadata?.resourceVersion ?? '' },
      data: Object.fromEntries(data),
    };
  }

  /** Secrets and keys wanted now (for metrics). */
  stats(): { readonly secrets: number; readonly keys: number } {
    let keys = 0;
    for (const k of this.wanted.values()) keys += k.size;
    return { secrets: this.wanted.size, keys };
  }
}

/**
 * Why each credential of `policy` cannot be resolved from the cache, in words a
 * user can act on; empty when all can. The cache holds only labelled Secrets,
 * so a missing Secret and an unlabelled one look the same from here.
 */
export function credentialProblems(policy: AgentPolicy, secret: (namespace: string, name: string) => SlimSecret | undefined): string[] {
  return policy.credentials.flatMap((c) => {
    const id = `${policy.namespace}/${c.secretRef.name}`;
    const s = secret(policy.namespace, c.secretRef.name);
    if (s === undefined) {
      return [`credential "${c.name}" unavailable: Secret ${id} is not among the Secrets labelled ${CREDENTIAL_SELECTOR} (create it, or label it: kubectl label secret -n ${policy.namespace} ${c.secretRef.name} ${CREDENTIAL_SELECTOR})`];
    }
    if (s.data[c.secretRef.key] === undefined) return [`credential "${c.name}" unavailable: Secret ${id} has no key "${c.secretRef.key}"`];
    return [];
  });
}
