// Processes under test: free loopback ports, readiness polling, and what
// /proc says about a process (resident memory, CPU time).
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** GET url; resolves with the status code, or 0 when the connection fails. */
export function httpStatus(url: string, timeoutMs = 1000): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

export function httpText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    }).on('error', reject);
  });
}

/** Polls url every few ms until it answers 200; rejects when `alive()` turns false or on timeout. */
export async function waitFor200(url: string, alive: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (!alive()) throw new Error(`exited before ${url} answered 200`);
    if (await httpStatus(url, 500) === 200) return;
    if (performance.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Resident set size in MiB (VmRSS of /proc/<pid>/status), or NaN when the process is gone. */
export function rssMiB(pid: number): number {
  return memoryMiB(pid)['VmRSS'] ?? Number.NaN;
}

/** The memory figures of /proc/<pid>/status (VmRSS, VmHWM, RssAnon, RssFile...) in MiB; empty when the process is gone. */
export function memoryMiB(pid: number): Partial<Record<string, number>> {
  const out: Record<string, number> = {};
  try {
    for (const m of readFileSync(`/proc/${pid}/status`, 'utf8').matchAll(/^(\w+):\s+(\d+) kB$/gm)) out[m[1] ?? ''] = Number(m[2]) / 1024;
  } catch {
    // gone
  }
  return out;
}

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux x86-64

/** User + system CPU seconds used by the process so far (/proc/<pid>/stat). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/** Samples RSS every `everyMs` until stopped; returns the highest value seen. */
export function sampleRss(pid: number, everyMs = 100): { stop(): number } {
  let max = Number.NaN;
  const take = (): void => {
    const r = rssMiB(pid);
    if (Number.isNaN(max) || r > max) max = r;
  };
  take();
  const t = setInterval(take, everyMs);
  return {
    stop(): number {
      clearInterval(t);
      take();
      return max;
    },
  };
}

export interface MachineTicks {
  readonly total: number;
  readonly steal: number;
  /** idle + iowait. */
  readonly idle: number;
}

/**
 * The machine's CPU time so far from /proc/stat, in clock ticks: all of it, and
 * what the hypervisor gave other guests while this one wanted to run (steal).
 * On a shared virtual machine, steal is the noise a bench cannot see from inside.
 */
export function machineCpuTicks(): MachineTicks {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal [guest guest_nice, already in user and nice]
  const total = fields.slice(0, 8).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
  return { total, steal: fields[7] ?? 0, idle: (fields[3] ?? 0) + (fields[4] ?? 0) };
}

/** How busy the machine was between two readings of machineCpuTicks: % of its CPU time neither idle nor stolen (NaN when no tick passed). */
export function busyPercent(before: MachineTicks, after: MachineTicks): number {
  const total = after.total - before.total;
  if (total <= 0) return Number.NaN;
  return 100 * (total - (after.idle - before.idle) - (after.steal - before.steal)) / total;
}

/** Steal between two readings of machineCpuTicks, as a % of the machine's CPU time between them. */
export function stealPercent(before: MachineTicks, after: MachineTicks): number {
  return 100 * (after.steal - before.steal) / Math.max(1, after.total - before.total);
}
