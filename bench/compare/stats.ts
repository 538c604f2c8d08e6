// Small statistics helpers for the bench driver.

/** The p-quantile (0..1) of the values, nearest-rank; NaN when empty. */
export function percentile(values: Float64Array | readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.ceil(p * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? Number.NaN;
}

/** The middle value, or the mean of the two middle values; NaN when empty. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function concat(parts: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** ENGINES rotated by r: round 0 A B C, round 1 B C A, round 2 C A B. */
export function rotate<T>(items: readonly T[], r: number): T[] {
  const k = ((r % items.length) + items.length) % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}
