// The token broker (DESIGN.md "Brokered OAuth credentials"): one access token
// per (policy, credential, scope set) that the rules of existing pods use,
// fetched with the client-credentials grant by every controller replica for itself (each serves sidecars, issue 20), refreshed at
// 75% of its lifetime (minus jitter) so that no request waits on a fetch; a
// failing endpoint keeps the last token until it expires and is retried with
// capped, jittered backoff; the client Secret is read at every fetch, so a
// rotation takes effect on the next one (at once when fetches are failing).
// Tokens leave this class only as TokenLeases for the compiler; status and
// metrics see states, reasons and times, never a token or secret.
import { renderLines, type MetricFamily } from '../../../common/prometheus.js';
import type { OAuth2Spec, TokenLease } from '../../../policy/src/index.js';
import type { OAuthOptions } from './options.js';
import type { TokenFailureReason, TokenRequest, TokenResult } from './token-client.js';

/** One token some rule of an existing pod needs. */
export interface TokenDemand {
  readonly namespace: string;
  readonly policy: string;
  readonly credential: string;
  /** Sorted. */
  readonly scopes: readonly string[];
  readonly spec: OAuth2Spec;
}

/** The client of a credential, from its clientSecretRef Secret; `version` changes when the Secret does. */
export type ClientSecretLookup = (namespace: string, name: string) =>
  | { readonly ok: true; readonly clientId: string; readonly clientSecret: string; readonly version: string }
  | { readonly ok: false; readonly message: string; readonly version: string };

export type TokenState = 'Pending' | 'Valid' | 'Failing' | 'Expired';

/** AgentPolicy.status.tokens[]: where one token stands (never the token). */
export interface TokenStatus {
  readonly credential: string;
  readonly scopes: readonly string[];
  readonly state: TokenState;
  readonly expiresAt?: string;
  readonly refreshedAt?: string;
  readonly reason?: string;
  readonly message?: string;
}

export interface TokenBrokerDeps {
  readonly options: OAuthOptions;
  readonly fetch: (request: TokenRequest) => Promise<TokenResult>;
  readonly clientSecret: ClientSecretLookup;
  /** Whether this replica fetches now (main.ts: every replica, since each serves sidecars). */
  readonly mayFetch: () => boolean;
  /** A lease changed (a token, an expiry, a failure): recompile and push, write status. */
  readonly onChange: () => void;
  readonly log: (level: 'info' | 'warn', msg: string, fields: Record<string, unknown>) => void;
  readonly now?: () => number;
  readonly random?: () => number;
}

interface Entry {
  readonly key: string;
  demand: TokenDemand;
  token: string | undefined;
  expiresAtMs: number;
  lifetimeMs: number;
  refreshedAtMs: number;
  /** Had a token once (Expired rather than Failing when none is left). */
  held: boolean;
  revision: string;
  reason: TokenFailureReason | '';
  message: string;
  failures: number;
  /** The client Secret's version at the last attempt. */
  secretVersion: string;
  timer: NodeJS.Timeout | undefined;
  expiry: NodeJS.Timeout | undefined;
  queued: boolean;
  inFlight: boolean;
  /** Due while this replica did not lead: fetched when it does. */
  deferred: boolean;
  removed: boolean;
}

/** expires_in's precision: a token is taken to end this much (at most a quarter of its lifetime) before now + expires_in. */
export const EXPIRES_IN_GRANULARITY_MS = 1000;

/** Metric label of a fetch outcome. */
type FetchResult = 'ok' | TokenFailureReason;

export class TokenBroker {
  private readonly entries = new Map<string, Entry>();
  private readonly queue: Entry[] = [];
  private inFlight = 0;
  private seq = 0;
  private readonly epoch: number;
  private readonly fetches = new Map<string, number>();
  private stopped = false;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly deps: TokenBrokerDeps) {
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.epoch = this.now();
  }

  /**
   * The tokens wanted now (every reconcile pass): new ones are fetched at once,
   * those no longer wanted are forgotten, a changed oauth2 spec starts over, and
   * a failing one whose client Secret changed is retried at once.
   */
  setDemand(demands: readonly TokenDemand[]): void {
    const wanted = new Set<string>();
    for (const d of demands) {
      const key = entryKey(d.namespace, d.policy, d.credential, d.scopes);
      wanted.add(key);
      const e = this.entries.get(key);
      if (e === undefined) {
        const created = this.newEntry(key, d);
        this.entries.set(key, created);
        this.schedule(created, 0);
        continue;
      }
      if (JSON.stringify(e.demand.spec) !== JSON.stringify(d.spec)) {
        // Another endpoint, audience or parameters: the old token may not be valid for it.
        this.forget(e);
        const fresh = this.newEntry(key, d);
        this.entries.set(key, fresh);
        this.schedule(fresh, 0);
        continue;
      }
      e.demand = d;
      const secret = this.deps.clientSecret(d.namespace, d.spec.clientSecretRef.name);
      if (e.failures > 0 && !e.inFlight && !e.queued && secret.version !== e.secretVersion) this.schedule(e, 0);
    }
    for (const [key, e] of this.entries) {
      if (!wanted.has(key)) {
        this.forget(e);
        this.entries.delete(key);
      }
    }
  }

  /** The compiler's TokenResolver: the current lease, undefined when this token is not wanted (yet). */
  readonly lease = (namespace: string, policy: string, credential: string, scopes: readonly string[]): TokenLease | undefined => {
    const e = this.entries.get(entryKey(namespace, policy, credential, scopes));
    if (e === undefined) return undefined;
    const usable = e.token !== undefined && this.now() < e.expiresAtMs;
    return {
      token: usable ? e.token : undefined,
      expiresAtMs: usable ? e.expiresAtMs : 0,
      lifetimeMs: usable ? e.lifetimeMs : 0,
      revision: e.revision,
      unavailableReason: usable ? '' : unavailable(e),
    };
  };

  /** What identifies every lease of a policy's tokens (SnapshotBook's memo key). */
  revisions(namespace: string, policy: string): string {
    const prefix = `${namespace}/${policy}/`;
    const out: string[] = [];
    for (const [key, e] of this.entries) if (key.startsWith(prefix)) out.push(`${key}=${e.revision}`);
    return out.sort().join(',');
  }

  /** AgentPolicy.status.tokens of a policy, by credential then scopes. */
  statuses(namespace: string, policy: string): TokenStatus[] {
    const out: TokenStatus[] = [];
    for (const e of this.entries.values()) {
      if (e.demand.namespace !== namespace || e.demand.policy !== policy) continue;
      const usable = e.token !== undefined && this.now() < e.expiresAtMs;
      out.push({
        credential: e.demand.credential,
        scopes: [...e.demand.scopes],
        state: stateOf(e, usable),
        ...(usable ? { expiresAt: new Date(e.expiresAtMs).toISOString(), refreshedAt: new Date(e.refreshedAtMs).toISOString() } : {}),
        ...(e.reason === '' ? {} : { reason: e.reason, message: e.message }),
      });
    }
    return out.sort((a, b) => (a.credential + a.scopes.join(' ') < b.credential + b.scopes.join(' ') ? -1 : 1));
  }

  /** This replica started or stopped leading: on start, fetch what came due meanwhile (bounded by maxConcurrentFetches). */
  leadershipChanged(leading: boolean): void {
    if (!leading) return;
    for (const e of this.entries.values()) {
      const usable = e.token !== undefined && this.now() < e.expiresAtMs;
      if (e.deferred || !usable) this.schedule(e, 0);
    }
  }

  /** Fetches made, by outcome (for the bench and metrics). */
  fetchCount(result?: FetchResult): number {
    let n = 0;
    for (const [k, v] of this.fetches) if (result === undefined || k.endsWith(`|${result}`)) n += v;
    return n;
  }

  render(): string[] {
    const byState = new Map<TokenState, number>([['Pending', 0], ['Valid', 0], ['Failing', 0], ['Expired', 0]]);
    for (const e of this.entries.values()) {
      const s = stateOf(e, e.token !== undefined && this.now() < e.expiresAtMs);
      byState.set(s, (byState.get(s) ?? 0) + 1);
    }
    const families: MetricFamily[] = [
      {
        name: 'agentwarden_oauth_token_fetches_total', type: 'counter',
        help: 'Client-credentials token requests the controller made, by policy, credential and result (ok, or the failure reason: TokenEndpointError, TokenEndpointTimeout, TokenEndpointTLS, TokenEndpointUnreachable, TokenResponseTooLarge, TokenResponseMalformed, TokenScopeMismatch, ClientSecretUnavailable).',
        samples: [...this.fetches].map(([k, value]) => {
          const [namespace = '', policy = '', credential = '', result = ''] = k.split('|');
          return { labels: { namespace, policy, credential, result }, value };
        }),
      },
      {
        name: 'agentwarden_oauth_tokens', type: 'gauge',
        help: 'Brokered OAuth tokens (one per credential and scope set in use), by state: Pending (none fetched yet), Valid, Failing (last fetch failed, last token still used), Expired (none usable: rules that inject it deny).',
        samples: [...byState].map(([state, value]) => ({ labels: { state }, value })),
      },
      { name: 'agentwarden_oauth_token_fetches_in_flight', type: 'gauge', help: 'Token requests in flight now (at most --oauth-max-concurrent-fetches).', samples: [{ value: this.inFlight }] },
    ];
    return renderLines(families);
  }

  stop(): void {
    this.stopped = true;
    for (const e of this.entries.values()) this.forget(e);
    this.entries.clear();
  }

  private newEntry(key: string, demand: TokenDemand): Entry {
    return {
      key, demand, token: undefined, expiresAtMs: 0, lifetimeMs: 0, refreshedAtMs: 0, held: false, revision: this.nextRevision(),
      reason: '', message: '', failures: 0, secretVersion: '', timer: undefined, expiry: undefined, queued: false, inFlight: false, deferred: false, removed: false,
    };
  }

  private nextRevision(): string {
    this.seq++;
    return `oauth2:${this.epoch}.${this.seq}`;
  }

  private forget(e: Entry): void {
    e.removed = true;
    clearTimeout(e.timer);
    clearTimeout(e.expiry);
  }

  private schedule(e: Entry, delayMs: number): void {
    clearTimeout(e.timer);
    e.timer = setTimeout(() => { this.enqueue(e); }, Math.max(0, delayMs));
    e.timer.unref();
  }

  private enqueue(e: Entry): void {
    if (this.stopped || e.removed || e.queued || e.inFlight) return;
    if (!this.deps.mayFetch()) {
      e.deferred = true;
      return;
    }
    e.deferred = false;
    e.queued = true;
    this.queue.push(e);
    this.drain();
  }

  private drain(): void {
    while (this.inFlight < this.deps.options.maxConcurrentFetches && this.queue.length > 0) {
      const e = this.queue.shift();
      if (e === undefined) break;
      e.queued = false;
      if (e.removed) continue;
      e.inFlight = true;
      this.inFlight++;
      void this.run(e).finally(() => {
        e.inFlight = false;
        this.inFlight--;
        this.drain();
      });
    }
  }

  private async run(e: Entry): Promise<void> {
    const d = e.demand;
    // The token may be issued any time during the request: its lifetime counts from the start.
    const startedAt = this.now();
    const secret = this.deps.clientSecret(d.namespace, d.spec.clientSecretRef.name);
    e.secretVersion = secret.version;
    const result: TokenResult = secret.ok
      ? await this.deps.fetch({ spec: d.spec, clientId: secret.clientId, clientSecret: secret.clientSecret, scopes: d.scopes })
      : { ok: false, reason: 'ClientSecretUnavailable', message: secret.message };
    if (e.removed || this.stopped) return;
    const counter = `${d.namespace}|${d.policy}|${d.credential}|${result.ok ? 'ok' : result.reason}`;
    this.fetches.set(counter, (this.fetches.get(counter) ?? 0) + 1);
    const now = this.now();
    const what = { namespace: d.namespace, policy: d.policy, credential: d.credential, scopes: d.scopes.join(' ') };
    if (result.ok) {
      // expires_in is in whole seconds and servers count exp from a floored iat: the token may end up to 1 s early.
      const lifetimeMs = result.lifetimeMs - Math.min(EXPIRES_IN_GRANULARITY_MS, result.lifetimeMs / 4);
      Object.assign(e, {
        token: result.accessToken, lifetimeMs, expiresAtMs: startedAt + lifetimeMs, refreshedAtMs: now,
        held: true, failures: 0, reason: '', message: '', revision: this.nextRevision(),
      });
      const o = this.deps.options;
      const refreshIn = startedAt + lifetimeMs * o.refreshAt - this.random() * o.refreshJitter * lifetimeMs - now;
      this.schedule(e, refreshIn);
      clearTimeout(e.expiry);
      e.expiry = setTimeout(() => { this.expire(e); }, e.expiresAtMs - now);
      e.expiry.unref();
      this.deps.log('info', 'oauth token fetched', { ...what, expiresInMs: result.lifetimeMs, refreshInMs: Math.round(refreshIn) });
      this.deps.onChange();
      return;
    }
    e.failures++;
    e.reason = result.reason;
    e.message = result.message;
    const o = this.deps.options;
    const backoff = Math.min(o.retryMaxMs, o.retryBaseMs * 2 ** Math.min(e.failures - 1, 30));
    const retryIn = backoff * (0.5 + this.random() * 0.5);
    this.schedule(e, retryIn);
    const usable = e.token !== undefined && now < e.expiresAtMs;
    // The last token stays in use until it expires; without one, the deny reason changes.
    if (!usable) e.revision = this.nextRevision();
    this.deps.log('warn', 'oauth token fetch failed', { ...what, reason: result.reason, error: result.message, failures: e.failures, retryInMs: Math.round(retryIn), lastTokenValidForMs: usable ? e.expiresAtMs - now : 0 });
    this.deps.onChange();
  }

  private expire(e: Entry): void {
    if (e.removed || e.token === undefined) return;
    const early = e.expiresAtMs - this.now();
    if (early > 0) {
      e.expiry = setTimeout(() => { this.expire(e); }, early);
      e.expiry.unref();
      return;
    }
    e.token = undefined;
    e.revision = this.nextRevision();
    this.deps.log('warn', 'oauth token expired without a new one', { namespace: e.demand.namespace, policy: e.demand.policy, credential: e.demand.credential, scopes: e.demand.scopes.join(' '), reason: e.reason === '' ? 'no refresh yet' : e.reason });
    this.deps.onChange();
  }
}

function entryKey(namespace: string, policy: string, credential: string, scopes: readonly string[]): string {
  return `${namespace}/${policy}/${credential}#${scopes.join(' ')}`;
}

function stateOf(e: Entry, usable: boolean): TokenState {
  if (usable) return e.failures > 0 ? 'Failing' : 'Valid';
  if (e.held) return 'Expired';
  return e.failures > 0 ? 'Failing' : 'Pending';
}

function unavailable(e: Entry): string {
  if (e.failures > 0) return `${e.held ? 'the last token expired and ' : ''}the token endpoint fails (${e.reason}: ${e.message})`;
  return e.held ? 'the last token expired before a new one was fetched' : 'no token fetched yet';
}
