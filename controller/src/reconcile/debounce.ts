// Coalesces bursts of changes: runs `fn` after `quietMs` without a new trigger,
// and at the latest `maxMs` after the first trigger of a burst.
export class Debouncer {
  private quietTimer: NodeJS.Timeout | undefined;
  private maxTimer: NodeJS.Timeout | undefined;

  constructor(private readonly quietMs: number, private readonly maxMs: number, private readonly fn: () => void) {}

  trigger(): void {
    if (this.quietTimer !== undefined) clearTimeout(this.quietTimer);
    this.quietTimer = setTimeout(() => { this.fire(); }, this.quietMs);
    this.maxTimer ??= setTimeout(() => { this.fire(); }, this.maxMs);
  }

  /** Runs now if a run is pending. */
  flush(): void {
    if (this.quietTimer !== undefined || this.maxTimer !== undefined) this.fire();
  }

  cancel(): void {
    if (this.quietTimer !== undefined) clearTimeout(this.quietTimer);
    if (this.maxTimer !== undefined) clearTimeout(this.maxTimer);
    this.quietTimer = undefined;
    this.maxTimer = undefined;
  }

  private fire(): void {
    this.cancel();
    this.fn();
  }
}
