// `--help` text of a command: its synopsis, every flag with its default, and
// the environment variables it reads. Each program's config module (or the
// CLI's command) owns its table; this file only lays it out.

export interface FlagHelp {
  /** Without dashes, e.g. "admin-listen". */
  readonly name: string;
  /** One-letter alias, e.g. "f" for -f. */
  readonly short?: string;
  /** Placeholder of the flag's value ("addr"); absent for a switch. */
  readonly value?: string;
  /** Shown as "default: …"; absent when the flag has none. */
  readonly default?: string;
  readonly text: string;
}

export interface EnvHelp {
  readonly name: string;
  readonly default?: string;
  readonly text: string;
}

export interface CommandHelp {
  /** One or more usage lines, without the leading "usage: ". */
  readonly usage: readonly string[];
  /** What the command does, one paragraph. */
  readonly summary: string;
  readonly flags: readonly FlagHelp[];
  readonly env?: readonly EnvHelp[];
  /** Exit codes and when each is returned. */
  readonly exits?: readonly (readonly [number, string])[];
}

const HELP_FLAG: FlagHelp = { name: 'help', short: 'h', text: 'print this help and exit 0' };

export function formatHelp(help: CommandHelp): string {
  const flags = [...help.flags, HELP_FLAG].map((f) => [`${f.short === undefined ? '    ' : `-${f.short}, `}--${f.name}${f.value === undefined ? '' : ` <${f.value}>`}`, describe(f.text, f.default)] as const);
  const env = (help.env ?? []).map((e) => [e.name, describe(e.text, e.default)] as const);
  const width = Math.max(...[...flags, ...env].map(([left]) => left.length));
  const rows = (list: readonly (readonly [string, string])[]): string[] => list.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`);
  return [
    ...help.usage.map((u, i) => `${i === 0 ? 'usage:' : '      '} ${u}`),
    '',
    help.summary,
    '',
    'flags:',
    ...rows(flags),
    ...(env.length === 0 ? [] : ['', 'environment:', ...rows(env)]),
    ...((help.exits ?? []).length === 0 ? [] : ['', 'exit codes:', ...(help.exits ?? []).map(([code, when]) => `  ${code}  ${when}`)]),
  ].join('\n');
}

function describe(text: string, fallback: string | undefined): string {
  return fallback === undefined ? text : `${text} (default: ${fallback})`;
}

/**
 * Thrown by a program's config reader when its arguments ask for --help; the
 * launcher (cli/src/run.ts) prints the message on stdout and exits 0.
 */
export class HelpRequested extends Error {
  constructor(readonly text: string) {
    super(text);
    this.name = 'HelpRequested';
  }
}
