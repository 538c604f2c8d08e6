// Namespace labels for the webhooks: an AdmissionReview does not carry them.
// They decide admission (inject or not, what the pod guard requires), so they
// are read fresh: a GET for every review, never a cache. A watch-invalidated
// cache would still answer from before a label change until the watch event
// arrives, and a pod created in that window would go in uninjected; a GET
// issued after the review arrived sees every change committed before it.
//
// Bounded: at most one GET per namespace in flight, plus one queued that every
// review arriving meanwhile shares (it starts after they arrived, so its answer
// is fresh for all of them); each wait has a deadline, so a slow API server
// turns into a clear denial instead of a webhook timeout.

/** Labels of a namespace; undefined when it does not exist. Throws when it cannot tell. */
export type NamespaceLabels = (namespace: string) => Promise<Readonly<Record<string, string>> | undefined>;

export interface FreshNamespaceOptions {
  /** A review waits at most this long for the labels, ms. Default 3000. */
  readonly timeoutMs?: number;
}

/** Default of FreshNamespaceOptions.timeoutMs. */
export const DEFAULT_NAMESPACE_TIMEOUT_MS = 3000;

type Answer = Readonly<Record<string, string>> | undefined;

interface Lane {
  /** The GET in flight. */
  running: Promise<Answer>;
  /** The GET that starts when `running` settles, shared by the reviews that arrived after `running` started. */
  next: Promise<Answer> | undefined;
}

export function freshNamespaceLabels(lookup: NamespaceLabels, options: FreshNamespaceOptions = {}): NamespaceLabels {
  const timeout = options.timeoutMs ?? DEFAULT_NAMESPACE_TIMEOUT_MS;
  const lanes = new Map<string, Lane>();

  const start = (namespace: string): Promise<Answer> => {
    // A GET that hangs gives its lane up after the deadline, so the next review reads again.
    const running = withDeadline(Promise.resolve().then(() => lookup(namespace)), namespace, timeout);
    const lane: Lane = lanes.get(namespace) ?? { running, next: undefined };
    lane.running = running;
    lanes.set(namespace, lane);
    const settled = (): void => {
      if (lane.next === undefined) lanes.delete(namespace);
    };
    running.then(settled, settled);
    return running;
  };

  const read = (namespace: string): Promise<Answer> => {
    const lane = lanes.get(namespace);
    if (lane === undefined) return start(namespace);
    // A GET already in flight may have been answered before this review's change: wait for the next one.
    lane.next ??= lane.running.then(() => undefined, () => undefined).then(() => {
      lane.next = undefined;
      return start(namespace);
    });
    return lane.next;
  };

  return (namespace) => withDeadline(read(namespace), namespace, timeout);
}

async function withDeadline(answer: Promise<Answer>, namespace: string, timeoutMs: number): Promise<Answer> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`reading namespace ${namespace} took longer than ${timeoutMs} ms`)); }, timeoutMs);
  });
  try {
    return await Promise.race([answer, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
