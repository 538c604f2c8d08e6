// For the churn scripts the regression tests run in a fresh node
// (sidecar/test/stream-table-churn.ts, policy/test/session-store-churn.ts):
// what a request allocates beside the structure under test, and the count of
// full GCs a churn caused, printed on stdout for the test to read.
import { PerformanceObserver, constants } from 'node:perf_hooks';

/** `n` short-lived objects, as a request's headers and state would be. */
export function requestGarbage(n: number): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) out.push({ i, name: `header-${i}`, value: [i, i + 1] });
  return out;
}

/**
 * Forces a full GC (what the caller built before is in the old generation after it),
 * runs `churn`, and prints the number of full GCs it caused. Needs --expose-gc.
 */
export function printMajorGcsOf(churn: () => void): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  gc();
  let major = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if ((e as { readonly detail?: { readonly kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) major++;
  });
  observer.observe({ entryTypes: ['gc'] });
  churn();
  // Node records a GC's entry from a setImmediate callback after the GC; the observer hears of it on a later turn.
  setImmediate(() => setImmediate(() => {
    observer.disconnect();
    process.stdout.write(`${major}\n`);
  }));
}
