// What the harness runs as the agent: curl with a bounded time, its status
// code and body read back; and helpers over what an upstream recorded.
import type { HttpReceived } from './upstreams/http-recording.js';
import type { RunningPod } from './pod.js';

export interface CurlResult {
  /** HTTP status; 0 when no response came (refused, reset, timed out). */
  readonly status: number;
  readonly body: string;
  readonly exitCode: number;
  readonly stderr: string;
}

const STATUS_MARK = '\n--aw-status:';

/** curl as the agent (UID 1000): `args` are curl's, the URL among them. */
export async function curl(pod: RunningPod, args: readonly string[], timeoutSeconds = 10): Promise<CurlResult> {
  const r = await pod.agent(['curl', '-sS', '--max-time', String(timeoutSeconds), '-o', '-', '-w', `${STATUS_MARK}%{http_code}`, ...args], (timeoutSeconds + 5) * 1000);
  const at = r.stdout.lastIndexOf(STATUS_MARK);
  const status = at < 0 ? 0 : Number(r.stdout.slice(at + STATUS_MARK.length).trim());
  return { status: Number.isFinite(status) ? status : 0, body: at < 0 ? r.stdout : r.stdout.slice(0, at), exitCode: r.code, stderr: r.stderr };
}

/** The value of header `name` (case-insensitive) as the upstream received it; undefined when absent. */
export function header(received: HttpReceived, name: string): string | undefined {
  const raw = received.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]?.toLowerCase() === name) return raw[i + 1];
  return undefined;
}
