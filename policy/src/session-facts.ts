// One request's view of its sessions (DESIGN.md point 12): the session id each
// key gives (pod name, a header's value, the traceparent's trace id), the
// labels as they were before the request, and, once decided, the labels the
// effective allow adds and the links a decision that read them carries.
import type { CheckRequestFields } from './check-request.js';
import { MAX_SESSION_LINKS, type DecisionSession } from './decision.js';
import type { LoadedRule, SessionKey } from './load.js';
import { requestHeader } from './request.js';
import type { SessionStore, TaintEntry, TaintOrigin } from './session-store.js';

/** What CEL's `session` is bound to. */
export interface SessionBinding {
  readonly id: string;
  readonly taints: readonly string[];
}

interface KeyFacts {
  readonly key: SessionKey;
  readonly id: string;
  /** The store's key: "<spec>=<id>". */
  readonly storeKey: string;
  readonly entries: readonly TaintEntry[];
  readonly binding: SessionBinding;
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}/;
const ZERO_TRACE = '0'.repeat(32);
const NO_LINKS: readonly TaintOrigin[] = [];
const NO_LABELS: readonly string[] = [];

/** The W3C trace id of a traceparent header, "" when it has none or an invalid one. */
export function traceIdOf(traceparent: string | undefined): string {
  const m = traceparent === undefined ? null : TRACEPARENT.exec(traceparent.trim().toLowerCase());
  const id = m?.[1] ?? '';
  return id === ZERO_TRACE ? '' : id;
}

export class SessionFacts {
  /** The first key's facts (most policies have one key), then any others. */
  private first: KeyFacts | undefined;
  private others: KeyFacts[] | undefined;

  constructor(
    private readonly store: SessionStore | undefined,
    private readonly check: CheckRequestFields,
    private readonly podName: string,
    private readonly nowMs: number,
  ) {}

  /** `session` for a condition of a rule of a policy with this key. */
  binding(key: SessionKey): SessionBinding {
    return this.facts(key).binding;
  }

  /**
   * Decision.session: the session of `reporting` (evaluate picks the tainting
   * rule's, else the deciding rule's, else the first); `tainting` is the
   * effective allow's rule, whose taints join its policy's session now;
   * `deciding` is the effective decision's rule, whose `when` may have read the taints.
   */
  settle(reporting: SessionKey, tainting: LoadedRule | undefined, deciding: LoadedRule | undefined, origin: TaintOrigin | undefined): DecisionSession {
    const facts = this.facts(reporting);
    // Read before adding: links and the reported taints are the session as it was.
    const links = deciding?.readsTaints === true ? linksOf(this.facts(deciding.session).entries) : NO_LINKS;
    let added: readonly string[] = NO_LABELS;
    if (tainting?.taints !== undefined && this.store !== undefined) {
      const target = this.facts(tainting.session);
      // No id (the header or traceparent is missing): no session to add to.
      if (target.id !== '') {
        added = this.store.add(target.storeKey, tainting.taints, this.nowMs, tainting.sessionTtlMs, origin);
      }
    }
    return { id: facts.id, taints: facts.binding.taints, added, links };
  }

  private facts(key: SessionKey): KeyFacts {
    if (this.first?.key.spec === key.spec) return this.first;
    if (this.others !== undefined) for (const f of this.others) if (f.key.spec === key.spec) return f;
    const id = this.idOf(key);
    const storeKey = `${key.spec}=${id}`;
    const entries = id === '' || this.store === undefined ? [] : this.store.taintsOf(storeKey, this.nowMs);
    const f: KeyFacts = { key, id, storeKey, entries, binding: { id, taints: entries.length === 0 ? NO_LABELS : entries.map((e) => e.label) } };
    if (this.first === undefined) this.first = f;
    else (this.others ??= []).push(f);
    return f;
  }

  private idOf(key: SessionKey): string {
    switch (key.kind) {
      case 'pod': return this.podName;
      case 'header': return requestHeader(this.check, key.header) ?? '';
      case 'trace': return traceIdOf(requestHeader(this.check, 'traceparent'));
    }
  }
}

/** The distinct origins of `entries`, newest first, at most MAX_SESSION_LINKS. */
function linksOf(entries: readonly TaintEntry[]): readonly TaintOrigin[] {
  const out: TaintOrigin[] = [];
  for (let i = entries.length - 1; i >= 0 && out.length < MAX_SESSION_LINKS; i--) {
    const o = entries[i]?.origin;
    if (o !== undefined && !out.some((l) => l.spanId === o.spanId && l.traceId === o.traceId)) out.push(o);
  }
  return out;
}
