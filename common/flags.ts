// One flag registry per command: each command declares its flags (name, type,
// default, environment variable, help text) once, and both the parser
// (node:util parseArgs) and the `--help` text are generated from that table,
// so a flag cannot exist without help. Programs' config modules and the CLI's
// commands declare their tables; `make lint` forbids parseArgs elsewhere.
import type { ParseArgsOptionsConfig } from 'node:util';
import { formatHelp, HelpRequested, type EnvHelp, type FlagHelp } from './help.js';
const { parseArgs } = process.getBuiltinModule('node:util');

export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  /** One-letter alias, e.g. "f" for -f. */
  readonly short?: string;
  /** Repeatable: the value is a list (string flags only). */
  readonly multiple?: boolean;
  /** Value when neither the flag nor its environment variable is given (string flags; switches default to false). */
  readonly default?: string;
  /** The default as help shows it, when it is not a literal value ("$POD_NAME, else the host name"). */
  readonly shownDefault?: string;
  /** Placeholder of the value in help ("addr"); string flags only. */
  readonly value?: string;
  /** Environment variable read when the flag is absent (before `default`). */
  readonly env?: string;
  readonly help: string;
}

export type FlagTable = Readonly<Record<string, FlagSpec>>;

/** Exit code and when a command returns it. */
export type ExitCode = readonly [code: number, when: string];

export interface CommandSpec<F extends FlagTable = FlagTable> {
  /** The command word after `agentwarden`. */
  readonly name: string;
  readonly usage: readonly string[];
  readonly summary: string;
  readonly flags: F;
  /** Positional arguments accepted (placeholders are in `usage`). Default false. */
  readonly positionals?: boolean;
  /** Settings read from the environment alone (flags' variables are listed from `flags`). */
  readonly env?: readonly EnvHelp[];
  readonly exits: readonly ExitCode[];
}

type One<S extends FlagSpec> = S['type'] extends 'boolean' ? boolean : S['multiple'] extends true ? string[] : string;
type Given<S extends FlagSpec> = S['type'] extends 'boolean' ? true : S['multiple'] extends true ? true : S extends { readonly default: string } ? true : false;

/** Parsed values, typed from the table: switches are booleans, a string flag with a default is always a string. */
export type FlagValues<F extends FlagTable> = { readonly [K in keyof F]: Given<F[K]> extends true ? One<F[K]> : One<F[K]> | undefined };

export interface Parsed<F extends FlagTable> {
  readonly values: FlagValues<F>;
  readonly positionals: readonly string[];
}

/** Declares a command; `const` keeps the flags' literal types for FlagValues. */
export function defineCommand<const F extends FlagTable>(spec: CommandSpec<F>): CommandSpec<F> {
  return spec;
}

export const HELP_FLAG = 'help';

/** The options handed to parseArgs: the table's flags and --help/-h. */
export function parserOptions(spec: CommandSpec): ParseArgsOptionsConfig {
  const options: ParseArgsOptionsConfig = {};
  for (const [name, f] of Object.entries(spec.flags)) {
    options[name] = { type: f.type, ...(f.short === undefined ? {} : { short: f.short }), ...(f.multiple === true ? { multiple: true } : {}) };
  }
  options[HELP_FLAG] = { type: 'boolean', short: 'h' };
  return options;
}

/**
 * Parses argv against the command's table; a flag absent from argv takes its
 * environment variable from `env`, then its default. Throws HelpRequested on
 * --help/-h, and parseArgs' ERR_PARSE_ARGS_* errors on unknown flags.
 */
export function parseCommand<F extends FlagTable>(spec: CommandSpec<F>, argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): Parsed<F> {
  const { values, positionals } = parseArgs({ args: [...argv], options: parserOptions(spec), allowPositionals: spec.positionals === true, strict: true });
  if (values[HELP_FLAG] === true) throw new HelpRequested(commandHelp(spec));
  const out: Record<string, string | boolean | string[] | undefined> = {};
  for (const [name, f] of Object.entries(spec.flags)) {
    const given = values[name];
    const fromEnv = f.env === undefined ? undefined : env[f.env];
    if (f.type === 'boolean') out[name] = given === true || (given === undefined && fromEnv !== undefined && fromEnv.toLowerCase() === 'true');
    else if (f.multiple === true) out[name] = Array.isArray(given) ? given.map(String) : fromEnv === undefined || fromEnv === '' ? [] : [fromEnv];
    else out[name] = typeof given === 'string' ? given : (fromEnv ?? f.default);
  }
  // Typed by construction: one entry per flag of the table, of the flag's type.
  return { values: Object.freeze(out) as FlagValues<F>, positionals };
}

/** `agentwarden <command> --help`: usage, summary, every flag with its default and variable, the environment, the exit codes. */
export function commandHelp(spec: CommandSpec): string {
  const flags: FlagHelp[] = Object.entries(spec.flags).map(([name, f]) => ({
    name,
    ...(f.short === undefined ? {} : { short: f.short }),
    ...(f.type === 'string' ? { value: f.value ?? 'value' } : {}),
    ...(f.shownDefault !== undefined ? { default: f.shownDefault } : f.default !== undefined ? { default: f.default } : {}),
    text: f.multiple === true ? `${f.help}; repeatable` : f.help,
  }));
  const flagEnv: EnvHelp[] = Object.entries(spec.flags).flatMap(([name, f]) => (f.env === undefined ? [] : [{ name: f.env, text: `--${name} when the flag is not given` }]));
  return formatHelp({ usage: spec.usage, summary: spec.summary, flags, env: [...flagEnv, ...(spec.env ?? [])], exits: spec.exits });
}

/**
 * A command line parseArgs refused (unknown flag, missing value): ERR_PARSE_ARGS_*.
 * Checked by code, not instanceof Error: under jest's VM modules node:util's
 * errors come from another realm.
 */
export function isUsageError(e: unknown): e is { readonly code: string; readonly message: string } {
  return typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS') && 'message' in e && typeof e.message === 'string';
}
