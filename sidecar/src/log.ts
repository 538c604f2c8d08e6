// Structured logs, one JSON object per line on stderr. Callers pass facts, never
// secrets or request bodies.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Readonly<Record<string, unknown>>): void;
}

export function jsonLogger(min: LogLevel, write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  return {
    log(level, msg, fields = {}): void {
      if (ORDER[level] < ORDER[min]) return;
      write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
    },
  };
}
