// A bounded memo of a pure function of a string, for what a request repeats:
// an agent calls the same few hosts and paths again and again, and reading
// them (validation, percent-decoding, case folding) is the same work each time.
//
// Bounded in entries and key length; when full it starts again empty (a flood
// of distinct keys costs a recomputation each, never memory). The results are
// shared between calls, so they must be immutable (the readonly types say so).
//
// No library: lru-cache and node-cache keep recency or expiry bookkeeping per
// read, which is the cost this saves; a Map cleared when full needs none.

export interface StringMemoOptions {
  /** Entries at most; the memo is emptied when a new key would exceed it. */
  readonly maxEntries: number;
  /** Keys longer than this are computed each time and not kept. */
  readonly maxKeyLength: number;
}

export function memoizeByString<T>(compute: (key: string) => T, options: StringMemoOptions): (key: string) => T {
  const memo = new Map<string, T>();
  return (key) => {
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    const value = compute(key);
    if (key.length <= options.maxKeyLength) {
      if (memo.size >= options.maxEntries) memo.clear();
      memo.set(key, value);
    }
    return value;
  };
}
