// Values kept by two string keys, bounded in both: what the sidecar's
// encoders write again and again (an audit span's attribute by key and value,
// the CheckResponse's rule header by policy and rule) is encoded once. A pair
// that does not fit is not kept; its caller encodes it each time.
export class PairCache<V> {
  private readonly byFirst = new Map<string, Map<string, V>>();

  /** At most `firstKeys` first keys, and `perFirst` second keys under each. */
  constructor(private readonly firstKeys: number, private readonly perFirst: number) {}

  get(first: string, second: string): V | undefined {
    return this.byFirst.get(first)?.get(second);
  }

  /** Is there room for a new pair under `first`? */
  hasRoom(first: string): boolean {
    const bySecond = this.byFirst.get(first);
    return bySecond === undefined ? this.byFirst.size < this.firstKeys : bySecond.size < this.perFirst;
  }

  /** Keeps the pair when there is room. */
  set(first: string, second: string, value: V): void {
    if (!this.hasRoom(first)) return;
    let bySecond = this.byFirst.get(first);
    if (bySecond === undefined) {
      bySecond = new Map();
      this.byFirst.set(first, bySecond);
    }
    bySecond.set(second, value);
  }
}
