// Namespace labels for the webhooks: an AdmissionReview does not carry them.
// The controller backs the lookup with an informer or a GET; this wrapper adds
// a short-lived, bounded cache and a timeout so a slow API server turns into a
// clear denial instead of a webhook timeout.

/** Labels of a namespace; undefined when it does not exist. Throws when it cannot tell. */
export type NamespaceLabels = (namespace: string) => Promise<Readonly<Record<string, string>> | undefined>;

export interface NamespaceCacheOptions {
  /** How long an answer is reused, ms. Default 5000. */
  readonly ttlMs?: number;
  /** Entries kept; the oldest goes first. Default 1024. */
  readonly maxEntries?: number;
  /** A lookup slower than this fails, ms. Default 3000. */
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

export function cachedNamespaceLabels(lookup: NamespaceLabels, options: NamespaceCacheOptions = {}): NamespaceLabels {
  const ttl = options.ttlMs ?? 5000;
  const max = options.maxEntries ?? 1024;
  const timeout = options.timeoutMs ?? 3000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { readonly at: number; readonly labels: Readonly<Record<string, string>> | undefined }>();
  return async (namespace) => {
    const hit = cache.get(namespace);
    if (hit !== undefined && now() - hit.at < ttl) return hit.labels;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(new Error(`reading namespace ${namespace} took longer than ${timeout} ms`)); }, timeout);
    });
    try {
      const labels = await Promise.race([lookup(namespace), timedOut]);
      cache.delete(namespace);
      cache.set(namespace, { at: now(), labels });
      if (cache.size > max) {
        const oldest = cache.keys().next();
        if (oldest.done !== true) cache.delete(oldest.value);
      }
      return labels;
    } finally {
      clearTimeout(timer);
    }
  };
}
