// `agentwarden <command> --help` through bin/agentwarden, as a user runs it.
// The commands come from the dispatch table and each command's flags from the
// options its parser is built with (parserOptions): a command or a flag added
// without help fails here.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { COMMANDS } from '../src/commands.js';
import { commandHelp, parserOptions, type CommandSpec } from '../../common/flags.js';

// The compiled test runs from dist/cli/test/: the repository root is three levels up.
const BIN = fileURLToPath(new URL('../../../bin/agentwarden', import.meta.url));

function agentwarden(...argv: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(BIN, argv, { encoding: 'utf8', timeout: 20_000, env: { ...process.env, OTEL_TRACES_EXPORTER: 'none' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const specs = new Map<string, CommandSpec>();
beforeAll(async () => {
  for (const c of COMMANDS) specs.set(c.name, await c.spec());
});

function specOf(name: string): CommandSpec {
  const spec = specs.get(name);
  if (spec === undefined) throw new Error(`no spec loaded for ${name}`);
  return spec;
}

describe.each(COMMANDS.map((c) => c.name))('agentwarden %s --help', (command) => {
  it.each(['--help', '-h'])('exits 0 and prints, on stdout only, the help generated from the flag table (%s)', (flag) => {
    const r = agentwarden(command, flag);
    expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
    expect(r.out).toBe(`${commandHelp(specOf(command))}\n`);
    expect(r.out).toMatch(new RegExp(`^usage: agentwarden ${command}`));
  });

  it('names every flag its parser accepts, with its alias, value, default, environment variable and a description', () => {
    const spec = specOf(command);
    const out = agentwarden(command, '--help').out;
    const options = parserOptions(spec);
    expect(Object.keys(options)).toContain('help');
    for (const [name, option] of Object.entries(options)) {
      const flag = spec.flags[name];
      const flagLines = out.slice(out.indexOf('\nflags:\n')).split('\n').filter((l) => /^ {2}(-\w, )? *--/.test(l));
      const line = flagLines.find((l) => new RegExp(`^ {2}(-\\w, | {4})--${name}( <|\\s|$)`).test(l));
      expect({ name, line: line !== undefined }).toEqual({ name, line: true });
      if (option.short !== undefined) expect(line).toContain(`-${option.short}, --${name}`);
      if (flag === undefined) continue; // --help itself
      expect(flag.help.trim()).not.toBe('');
      expect(line).toContain(flag.help.slice(0, 30));
      if (flag.type === 'string') expect(line).toContain(`--${name} <`);
      const shown = flag.shownDefault ?? flag.default;
      if (shown !== undefined) expect(line).toContain(`(default: ${shown})`);
      if (flag.env !== undefined) expect(out).toMatch(new RegExp(`^  ${flag.env.replace(/[.*]/g, '\\$&')} +--${name} when the flag is not given`, 'm'));
    }
    for (const e of spec.env ?? []) expect(out).toContain(`  ${e.name} `);
  });

  it('lists its exit codes, and exits 2 naming an unknown flag', () => {
    const spec = specOf(command);
    const out = agentwarden(command, '--help').out;
    expect(spec.exits.length).toBeGreaterThan(0);
    for (const [code, when] of spec.exits) expect(out).toContain(`  ${code}  ${when}`);
    const r = agentwarden(command, '--no-such-flag');
    expect(r.code).toBe(2);
    expect(r.err).toContain("Unknown option '--no-such-flag'");
    expect(r.err).toContain(`agentwarden ${command} --help`);
  });
});

describe('flag defaults users rely on', () => {
  it.each([
    ['sidecar', ['(default: unix:/var/run/agentwarden-authz/authz.sock)', '(default: 127.0.0.1:15021)', '(default: http2)', '(default: 16777216)', 'OTEL_BSP_MAX_QUEUE_SIZE', 'POD_NAME']],
    ['controller', ['(default: :15012)', '(default: :8080)', '(default: :9443)', '(default: agentwarden-ca-root)', '(default: agentwarden-system)', 'KUBECONFIG', 'POD_NAMESPACE']],
    ['inject', ['-o, --output <yaml|json>', '(default: yaml)']],
    ['requests', ['-A, --all-namespaces', '(default: Pending,Approved,ReviewRequired)', 'KUBECONFIG']],
  ] as const)('%s --help shows them', (command, texts) => {
    const out = agentwarden(command, '--help').out;
    for (const t of texts) expect(out).toContain(t);
  });
});

describe('agentwarden --help', () => {
  it('lists every command of the table, how to get its flags, and the exit codes', () => {
    const r = agentwarden('--help');
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.out).toMatch(new RegExp(`^  ${c.name} +${c.synopsis.replace(/[()*.+?]/g, '\\$&')}$`, 'm'));
    expect(r.out).toContain('agentwarden <command> --help');
    expect(r.out).toMatch(/^exit codes:\n {2}0 {2}.+\n {2}1 {2}.+\n {2}2 {2}bad input or usage/m);
  });

  it('answers `agentwarden help <command>` as `agentwarden <command> --help`', () => {
    expect(agentwarden('help', 'status')).toEqual(agentwarden('status', '--help'));
    expect(agentwarden('help', 'status').code).toBe(0);
  });

  it('exits 2 on an unknown command, naming it', () => {
    const r = agentwarden('frobnicate');
    expect(r.code).toBe(2);
    expect(r.err).toContain('agentwarden: unknown command "frobnicate"');
  });
});

describe('agentwarden version', () => {
  it('prints the package version, as does --version, and exits 0', () => {
    const version = agentwarden('version');
    expect(version.code).toBe(0);
    expect(version.out).toMatch(/^agentwarden 0\.\d+\.\d+ \(node v\d+\.\d+\.\d+\)\n$/);
    expect(agentwarden('--version').out).toBe(version.out);
    expect(agentwarden('version', '--short').out).toMatch(/^0\.\d+\.\d+\n$/);
  });
});
