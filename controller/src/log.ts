// The controller's log: one JSON object per line on stderr, at or above a level.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

const ORDER = { debug: 0, info: 1, warn: 2, error: 3 } as const;

export function jsonLog(min: LogLevel, write: (line: string) => void = (line) => { process.stderr.write(line); }): Log {
  return (level, msg, fields = {}) => {
    if (ORDER[level] >= ORDER[min]) write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
  };
}
