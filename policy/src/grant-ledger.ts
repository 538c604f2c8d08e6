// What the sidecar remembers about grants between decisions (DESIGN.md
// "Approvals and break-glass"): when it first saw each grant, and how many
// requests each approval grant with `uses` has allowed. Time is passed in, so
// the ledger is deterministic in tests; like TokenBuckets it lives in the
// sidecar's memory and survives snapshot updates.

/** What the ledger needs of a grant (a LoadedGrant has it). */
export interface LedgerGrant {
  readonly name: string;
  readonly uid: string;
  /** status.expiresAt, Unix ms. */
  readonly expiresAtMs: number;
  readonly durationMs: number;
  /** Requests it allows; 0: any number until expiry. */
  readonly uses: number;
}

/** A use count for the controller (distribution.proto GrantUsed). */
export interface GrantUse {
  readonly name: string;
  readonly uid: string;
  /** Requests allowed so far by this sidecar. */
  readonly used: number;
}

interface Entry {
  readonly name: string;
  readonly firstSeenMs: number;
  /** min(expiresAt, firstSeen + duration): the grant ends here by this sidecar's clock. */
  readonly endMs: number;
  used: number;
}

export class GrantLedger {
  private readonly entries = new Map<string, Entry>();
  /** uid -> the latest count not yet reported. */
  private readonly unreported = new Map<string, GrantUse>();

  /**
   * Records `nowMs` as the first sight of every grant not seen before. Call it
   * when a snapshot is loaded: a grant then lasts at most its duration from
   * that moment, whatever the controller's clock said (a sidecar clock behind
   * the controller's cannot extend it). A grant evaluate() meets first is recorded there.
   */
  observe(grants: readonly LedgerGrant[], nowMs: number): void {
    for (const g of grants) this.entry(g, nowMs);
  }

  /** Whether `grant` allows at `nowMs`: before expiresAt, before firstSeen + duration, and with uses left. */
  honours(grant: LedgerGrant, nowMs: number): boolean {
    const e = this.entry(grant, nowMs);
    return nowMs < grant.expiresAtMs && nowMs < e.firstSeenMs + grant.durationMs && (grant.uses === 0 || e.used < grant.uses);
  }

  /** Counts one request `grant` allowed (only grants with uses are counted and reported). */
  use(grant: LedgerGrant, nowMs: number): void {
    if (grant.uses === 0) return;
    const e = this.entry(grant, nowMs);
    e.used += 1;
    this.unreported.set(grant.uid, { name: grant.name, uid: grant.uid, used: e.used });
  }

  /** The counts that changed since the last call, one per grant: what the sidecar sends as GrantUsed. */
  drainUsed(): GrantUse[] {
    const out = [...this.unreported.values()];
    this.unreported.clear();
    return out;
  }

  /**
   * Drops what is kept for grants no longer in `uids` once they have ended by
   * this ledger's clock. An entry outlives a snapshot that briefly lacks its
   * grant, so that the grant coming back neither restarts its duration nor its uses.
   */
  retain(uids: ReadonlySet<string>, nowMs: number): void {
    for (const [uid, e] of this.entries) if (!uids.has(uid) && nowMs >= e.endMs) this.entries.delete(uid);
  }

  /** Grants remembered. */
  get size(): number {
    return this.entries.size;
  }

  private entry(grant: LedgerGrant, nowMs: number): Entry {
    let e = this.entries.get(grant.uid);
    if (e === undefined) {
      e = { name: grant.name, firstSeenMs: nowMs, endMs: Math.min(grant.expiresAtMs, nowMs + grant.durationMs), used: 0 };
      this.entries.set(grant.uid, e);
    }
    return e;
  }
}
