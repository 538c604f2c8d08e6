// Notices that files changed by polling their mtime and size, as the webhook
// server does: Secret and ConfigMap volumes are swapped by symlink (no inotify
// event on the file itself), and a poll also works on any filesystem.
import { statSync } from 'node:fs';

/** mtime and size of each file, "missing" when one cannot be stat'ed. */
export function fileStamp(files: readonly string[]): string {
  try {
    return files.map((f) => { const s = statSync(f); return `${s.mtimeMs}:${s.size}`; }).join('|');
  } catch {
    return 'missing';
  }
}

export interface FilePollerOptions {
  readonly files: readonly string[];
  /** Check every this many ms. */
  readonly intervalMs: number;
  /**
   * Called when the files changed since the last accepted change. Return true when the new
   * content was taken; false retries it at the next check (a half-written file).
   */
  readonly onChange: () => boolean;
}

export class FilePoller {
  private stamp: string;
  private timer: NodeJS.Timeout | undefined;

  /** The current content counts as accepted: only later changes are reported. */
  constructor(private readonly options: FilePollerOptions) {
    this.stamp = fileStamp(options.files);
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => { this.check(); }, this.options.intervalMs);
    this.timer.unref();
  }

  /** Checks now (tests, and callers that know a change is likely). */
  check(): void {
    const now = fileStamp(this.options.files);
    if (now === this.stamp) return;
    if (this.options.onChange()) this.stamp = now;
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
