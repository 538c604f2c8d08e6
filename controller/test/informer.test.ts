// The informer behind every controller cache, driven by a scripted API server:
// a fake `list` over an in-memory object store and a fake `Watch` whose
// streams the test opens, feeds and ends. The fake Watch behaves as
// client-node's: aborting the returned controller ends the stream with an
// AbortError, and `done` is called once.
import { afterEach, describe, expect, it } from '@jest/globals';
import type { KubernetesObject, Watch } from '@kubernetes/client-node';
import { Informer, type InformerOptions, type ListResult } from '../src/kube/informer.js';
import { until } from './helpers.js';

interface Obj extends KubernetesObject {
  readonly metadata: { readonly name: string; readonly namespace: string; readonly resourceVersion: string };
  readonly data: string;
}

function obj(name: string, resourceVersion: string, data = ''): Obj {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'ns', resourceVersion }, data };
}

type Params = Record<string, string | number | boolean | undefined>;

/** One watch request the informer made. */
class WatchStream {
  ended = false;
  endedWith: unknown = undefined;
  readonly controller = new AbortController();

  constructor(
    readonly path: string,
    readonly params: Params,
    private readonly callback: (phase: string, obj: unknown) => void,
    private readonly done: (err: unknown) => void,
  ) {
    this.controller.signal.addEventListener('abort', () => {
      // client-node: the fetch body fails with an AbortError, asynchronously.
      setImmediate(() => { this.end(new DOMException('This operation was aborted', 'AbortError')); });
    });
  }

  get aborted(): boolean {
    return this.controller.signal.aborted;
  }

  emit(phase: string, object: unknown): void {
    if (!this.ended) this.callback(phase, object);
  }

  /** The server ends the stream (null: normally, e.g. its timeoutSeconds). */
  end(err: unknown = null): void {
    if (this.ended) return;
    this.ended = true;
    this.endedWith = err;
    this.done(err);
  }
}

/** A scripted stand-in for client-node's Watch. */
class FakeWatch {
  readonly streams: WatchStream[] = [];
  /** Called for each new stream after the informer has its controller. */
  onStream: (stream: WatchStream) => void = () => undefined;
  /** When false, watch() does not resolve (a request that never gets its response headers) until releaseHung(). */
  connects = true;
  private readonly hung: (() => void)[] = [];

  watch(path: string, params: Params, callback: (phase: string, obj: unknown) => void, done: (err: unknown) => void): Promise<AbortController> {
    const stream = new WatchStream(path, params, callback, done);
    this.streams.push(stream);
    if (!this.connects) return new Promise<AbortController>((resolve) => { this.hung.push(() => { resolve(stream.controller); }); });
    setImmediate(() => { this.onStream(stream); });
    return Promise.resolve(stream.controller);
  }

  /** Lets hung requests complete (test cleanup). */
  releaseHung(): void {
    for (const release of this.hung.splice(0)) release();
  }

  latest(): WatchStream {
    const s = this.streams.at(-1);
    if (s === undefined) throw new Error('no watch yet');
    return s;
  }

  asWatch(): Watch {
    return this as unknown as Watch;
  }
}

/** The API server's objects and resourceVersion, as `list` sees them. */
class FakeServer {
  readonly objects = new Map<string, Obj>();
  resourceVersion = 100;
  lists = 0;
  listTimes: number[] = [];
  /** Errors thrown by the next lists, in order. */
  failures: Error[] = [];

  put(o: Obj): void {
    this.objects.set(o.metadata.name, o);
  }

  list = (): Promise<ListResult<Obj>> => {
    this.lists++;
    this.listTimes.push(Date.now());
    const failure = this.failures.shift();
    if (failure !== undefined) return Promise.reject(failure);
    return Promise.resolve({ items: [...this.objects.values()], resourceVersion: String(this.resourceVersion) });
  };
}

interface Harness {
  readonly informer: Informer<Obj>;
  readonly watch: FakeWatch;
  readonly server: FakeServer;
  readonly changes: string[];
}

const running: { readonly informer: Informer<Obj>; readonly watch: FakeWatch }[] = [];

function start(options: Partial<InformerOptions<Obj>> = {}, setup: (h: { watch: FakeWatch; server: FakeServer }) => void = () => undefined): Harness {
  const watch = new FakeWatch();
  const server = new FakeServer();
  setup({ watch, server });
  const changes: string[] = [];
  const informer = new Informer<Obj>({
    name: 'configmaps',
    path: '/api/v1/configmaps',
    list: server.list,
    watch: watch.asWatch(),
    onChange: (name) => { changes.push(name); },
    log: () => undefined,
    backoff: { initialMs: 1, maxMs: 5 },
    ...options,
  });
  running.push({ informer, watch });
  informer.start();
  return { informer, watch, server, changes };
}

function names(informer: Informer<Obj>): string[] {
  return informer.list().map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`).sort();
}

describe('Informer', () => {
  afterEach(async () => {
    await Promise.all(running.splice(0).map(async ({ informer, watch }) => {
      const stopped = informer.stop();
      watch.releaseHung();
      await stopped;
    }));
  });

  it('lists, then watches from the list\'s resourceVersion with bookmarks', async () => {
    const { informer, watch, changes } = start({ watchTimeoutSeconds: 42 }, ({ server }) => {
      server.put(obj('a', '7'));
      server.resourceVersion = 120;
    });
    await until('the first watch', () => watch.streams.length === 1);
    expect(watch.latest().path).toBe('/api/v1/configmaps');
    expect(watch.latest().params).toEqual({ resourceVersion: '120', allowWatchBookmarks: true, timeoutSeconds: 42 });
    expect(names(informer)).toEqual(['a@7']);
    expect(informer.get('ns', 'a')?.metadata.resourceVersion).toBe('7');
    expect(changes).toEqual(['configmaps']);
    expect(informer.stats()).toMatchObject({ synced: true, relists: 1, restarts: 0, objects: 1 });
  });

  it('watches with the selectors it is given, as its list does', async () => {
    const { watch } = start({ selector: { labelSelector: 'agentwarden.io/credential=true', fieldSelector: 'status.phase!=Failed' } });
    await until('the first watch', () => watch.streams.length === 1);
    expect(watch.latest().params).toMatchObject({ labelSelector: 'agentwarden.io/credential=true', fieldSelector: 'status.phase!=Failed', resourceVersion: '100' });
  });

  it('relists on request and reports a change although no object changed (a new transform applies), also when asked while a list is in flight', async () => {
    // The informer's list goes through `gate`: null lists at once; a function holds the list until called.
    let gate: ((list: () => void) => void) | null = null;
    let held: (() => void) | undefined;
    const { informer, watch, server, changes } = start({}, ({ server: s }) => {
      s.put(obj('a', '1'));
      const list = s.list;
      s.list = () => (gate === null ? list() : new Promise((resolve) => { gate?.(() => { resolve(list()); }); }));
    });
    await until('the first watch', () => watch.streams.length === 1);
    expect(changes).toHaveLength(1);
    informer.relist();
    await until('the relist', () => server.lists === 2 && changes.length === 2);

    gate = (release) => { held = release; };
    informer.relist();
    await until('the held list', () => held !== undefined);
    informer.relist();
    gate = null;
    held?.();
    await until('a list after the held one', () => server.lists === 4 && changes.length === 4);
  });

  it('applies ADDED, MODIFIED and DELETED events to the cache and calls onChange for each', async () => {
    const { informer, watch, changes } = start({}, ({ server }) => { server.put(obj('a', '1')); });
    await until('the first watch', () => watch.streams.length === 1);
    const stream = watch.latest();
    stream.emit('ADDED', obj('b', '101'));
    expect(names(informer)).toEqual(['a@1', 'b@101']);
    stream.emit('MODIFIED', obj('a', '102', 'edited'));
    expect(informer.get('ns', 'a')?.data).toBe('edited');
    stream.emit('DELETED', obj('b', '103'));
    expect(names(informer)).toEqual(['a@102']);
    expect(changes).toHaveLength(4); // the first list, then one per event
  });

  it('takes the resourceVersion of a BOOKMARK without calling onChange, and resumes a watch the server ended from there without relisting', async () => {
    const { informer, watch, server, changes } = start();
    await until('the first watch', () => watch.streams.length === 1);
    const changesAfterList = changes.length;
    watch.latest().emit('BOOKMARK', { kind: 'ConfigMap', metadata: { resourceVersion: '150' } });
    expect(changes).toHaveLength(changesAfterList);
    expect(informer.list()).toHaveLength(0);

    watch.latest().end(); // the server's timeoutSeconds
    await until('a second watch', () => watch.streams.length === 2);
    expect(watch.latest().params['resourceVersion']).toBe('150');
    expect(server.lists).toBe(1);
    expect(informer.stats().relists).toBe(1);
  });

  it('resumes from the resourceVersion of the last event it saw', async () => {
    const { watch, server } = start();
    await until('the first watch', () => watch.streams.length === 1);
    watch.latest().emit('ADDED', obj('a', '130'));
    watch.latest().end();
    await until('a second watch', () => watch.streams.length === 2);
    expect(watch.latest().params['resourceVersion']).toBe('130');
    expect(server.lists).toBe(1);
  });

  it('relists on a 410 Gone ERROR event and loses no update made while the watch was broken', async () => {
    const { informer, watch, server, changes } = start({}, ({ server: s }) => {
      s.put(obj('kept', '1'));
      s.put(obj('edited', '2'));
      s.put(obj('removed', '3'));
    });
    await until('the first watch', () => watch.streams.length === 1);
    // Changes the watch never reports: it is already too far behind.
    server.put(obj('edited', '200', 'new'));
    server.objects.delete('removed');
    server.put(obj('added', '201'));
    server.resourceVersion = 300;
    const changesBefore = changes.length;
    watch.latest().emit('ERROR', { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired', message: 'too old resource version: 100 (250)' });

    await until('a relist and a new watch', () => watch.streams.length === 2);
    expect(watch.streams[0]!.aborted).toBe(true);
    expect(server.lists).toBe(2);
    expect(watch.latest().params['resourceVersion']).toBe('300');
    expect(names(informer)).toEqual(['added@201', 'edited@200', 'kept@1']);
    expect(informer.get('ns', 'edited')?.data).toBe('new');
    expect(changes.length).toBe(changesBefore + 1);
    expect(informer.stats()).toMatchObject({ relists: 2, restarts: 0, synced: true });
  });

  it('does not call onChange when a relist finds the cache already current', async () => {
    const { watch, server, changes } = start({}, ({ server: s }) => { s.put(obj('a', '1')); });
    await until('the first watch', () => watch.streams.length === 1);
    expect(changes).toHaveLength(1);
    watch.latest().emit('ERROR', { kind: 'Status', code: 410 });
    await until('a relist and a new watch', () => watch.streams.length === 2);
    expect(server.lists).toBe(2);
    expect(changes).toHaveLength(1);
  });

  it('retries a failing list with growing, capped backoff and counts each failure in stats().restarts', async () => {
    const { informer, watch, server } = start({ backoff: { initialMs: 20, maxMs: 40 } }, ({ server: s }) => {
      s.put(obj('a', '1'));
      s.failures.push(new Error('connect ECONNREFUSED'), new Error('503 Service Unavailable'), new Error('connect ECONNREFUSED'));
    });
    expect(informer.stats().synced).toBe(false);
    await until('the first watch', () => watch.streams.length === 1);
    expect(server.lists).toBe(4);
    const gaps = server.listTimes.slice(1).map((t, i) => t - server.listTimes[i]!);
    // 20 ms, then 40 ms, then capped at 40 ms; jitter is ±20 %.
    expect(gaps[0]).toBeGreaterThanOrEqual(14);
    expect(gaps[1]).toBeGreaterThanOrEqual(30);
    expect(gaps[2]).toBeGreaterThanOrEqual(30);
    expect(informer.stats()).toMatchObject({ synced: true, restarts: 3, relists: 1, objects: 1 });
  });

  it('restarts a failed watch (a connection error, not an end) with a relist and counts it', async () => {
    const { informer, watch, server } = start();
    await until('the first watch', () => watch.streams.length === 1);
    watch.latest().end(new Error('read ECONNRESET'));
    await until('a new watch', () => watch.streams.length === 2);
    expect(server.lists).toBe(2);
    expect(informer.stats().restarts).toBe(1);
  });

  it('aborts a watch that stays silent beyond staleAfterMs and relists (watchdog)', async () => {
    const { informer, watch, server } = start({ staleAfterMs: 50 });
    await until('the first watch', () => watch.streams.length === 1);
    const silent = watch.latest();
    await until('the watchdog to abort the silent watch', () => silent.aborted);
    await until('a relist and a new watch', () => watch.streams.length === 2);
    expect(server.lists).toBe(2);
    expect(informer.stats().relists).toBe(2);
  });

  it('keeps a watch that hears bookmarks within staleAfterMs', async () => {
    const { watch, server } = start({ staleAfterMs: 200 });
    await until('the first watch', () => watch.streams.length === 1);
    const stream = watch.latest();
    let rv = 100;
    const ticker = setInterval(() => { stream.emit('BOOKMARK', { metadata: { resourceVersion: String(++rv) } }); }, 10);
    try {
      await until('60 bookmarks (well beyond staleAfterMs)', () => rv >= 160);
    } finally {
      clearInterval(ticker);
    }
    expect(stream.aborted).toBe(false);
    expect(server.lists).toBe(1);
  });

  it('restarts a watch whose request never completes once staleAfterMs has passed (watchdog)', async () => {
    const { watch, server } = start({ staleAfterMs: 50 }, ({ watch: w }) => { w.connects = false; });
    await until('the first watch request', () => watch.streams.length === 1);
    await until('a relist after the hung watch request', () => server.lists >= 2, 2_000);
    expect(watch.streams.length).toBeGreaterThanOrEqual(2);
  });

  it('backs off between relists when every watch fails with a non-410 ERROR event', async () => {
    const { watch, server } = start({ backoff: { initialMs: 20, maxMs: 40 } }, ({ watch: w }) => {
      w.onStream = (s) => { s.emit('ERROR', { kind: 'Status', code: 500, reason: 'InternalError', message: 'etcdserver: request timed out' }); };
    });
    await until('four lists', () => server.lists >= 4);
    const gaps = server.listTimes.slice(1, 4).map((t, i) => t - server.listTimes[i]!);
    expect(watch.streams.length).toBeGreaterThanOrEqual(3);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(14);
  });

  it('relists after relistIntervalMs even when every watch ends normally', async () => {
    const { watch, server } = start({ relistIntervalMs: 30 }, ({ watch: w }) => {
      w.onStream = (s) => { setTimeout(() => { s.end(); }, 5); };
    });
    await until('a periodic relist', () => server.lists >= 2);
    expect(watch.streams.length).toBeGreaterThanOrEqual(2);
  });

  it('stop() aborts the watch and ends the loop', async () => {
    const { informer, watch, server } = start();
    await until('the first watch', () => watch.streams.length === 1);
    await informer.stop();
    expect(watch.latest().aborted).toBe(true);
    const lists = server.lists;
    const streams = watch.streams.length;
    // The loop has returned (stop awaited it): nothing can start another list or watch.
    await informer.stop();
    expect(server.lists).toBe(lists);
    expect(watch.streams.length).toBe(streams);
  });

  it('stop() returns at once while the informer waits out a long backoff', async () => {
    const { informer, server } = start({ backoff: { initialMs: 60_000, maxMs: 60_000 } }, ({ server: s }) => { s.failures.push(new Error('connect ECONNREFUSED')); });
    await until('the failed list and the start of the backoff', () => informer.stats().restarts === 1);
    const began = Date.now();
    await informer.stop();
    expect(Date.now() - began).toBeLessThan(1_000);
    expect(server.lists).toBe(1);
  });

  it('applies transform to watched objects', async () => {
    const transform = (o: unknown): Obj => {
      const full = o as Obj & { secretStuff?: string };
      return obj(full.metadata.name, full.metadata.resourceVersion, full.data.toUpperCase());
    };
    const { informer, watch } = start({ transform });
    await until('the first watch', () => watch.streams.length === 1);
    watch.latest().emit('ADDED', { ...obj('a', '101', 'slim me'), secretStuff: 'dropped' });
    expect(informer.get('ns', 'a')).toEqual(obj('a', '101', 'SLIM ME'));
  });

  it('reports staleness as the time since it last heard from the API server', async () => {
    const { informer, watch } = start();
    await until('the first watch', () => watch.streams.length === 1);
    watch.latest().emit('BOOKMARK', { metadata: { resourceVersion: '101' } });
    expect(informer.stats().staleMs).toBeLessThan(1_000);
  });
});
