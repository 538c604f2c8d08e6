// One flag table per command: the parser and the help come from it.
import { commandHelp, defineCommand, isUsageError, parseCommand, parserOptions } from '../flags.js';
import { HelpRequested } from '../help.js';

const SPEC = defineCommand({
  name: 'demo',
  usage: ['agentwarden demo [flags]'],
  summary: 'A command for the test.',
  positionals: true,
  flags: {
    listen: { type: 'string', value: 'addr', default: ':8080', help: 'listen address' },
    'pod-name': { type: 'string', value: 'name', env: 'POD_NAME', help: 'the pod' },
    policy: { type: 'string', multiple: true, value: 'file', help: 'policy files' },
    verbose: { type: 'boolean', short: 'v', env: 'DEMO_VERBOSE', help: 'say more' },
  },
  exits: [[0, 'done'], [2, 'bad input']],
});

describe('parseCommand', () => {
  it('takes a flag before its environment variable, and the variable before the default', () => {
    expect(parseCommand(SPEC, ['--pod-name', 'a'], { POD_NAME: 'b' }).values['pod-name']).toBe('a');
    expect(parseCommand(SPEC, [], { POD_NAME: 'b' }).values['pod-name']).toBe('b');
    expect(parseCommand(SPEC, [], {}).values['pod-name']).toBeUndefined();
    expect(parseCommand(SPEC, [], {}).values.listen).toBe(':8080');
    expect(parseCommand(SPEC, ['--listen', ':9'], {}).values.listen).toBe(':9');
  });

  it('gives switches false when absent, true when given or when their variable is "true"', () => {
    expect(parseCommand(SPEC, []).values.verbose).toBe(false);
    expect(parseCommand(SPEC, ['-v']).values.verbose).toBe(true);
    expect(parseCommand(SPEC, [], { DEMO_VERBOSE: 'TRUE' }).values.verbose).toBe(true);
  });

  it('collects a repeatable flag into a list, empty when absent', () => {
    expect(parseCommand(SPEC, ['--policy', 'a', '--policy', 'b']).values.policy).toEqual(['a', 'b']);
    expect(parseCommand(SPEC, []).values.policy).toEqual([]);
  });

  it('refuses a flag the table does not declare', () => {
    let thrown: unknown;
    try {
      parseCommand(SPEC, ['--nope']);
    } catch (e: unknown) {
      thrown = e;
    }
    expect(isUsageError(thrown) && thrown.code).toBe('ERR_PARSE_ARGS_UNKNOWN_OPTION');
  });

  it('throws HelpRequested carrying the generated help on --help and -h', () => {
    for (const flag of ['--help', '-h']) {
      expect(() => parseCommand(SPEC, [flag])).toThrow(HelpRequested);
      try {
        parseCommand(SPEC, [flag]);
      } catch (e: unknown) {
        expect(e instanceof HelpRequested && e.text).toBe(commandHelp(SPEC));
      }
    }
  });
});

describe('commandHelp', () => {
  it('lists every parser option with value, default, repeatability, environment and exit codes', () => {
    const help = commandHelp(SPEC);
    expect(Object.keys(parserOptions(SPEC)).sort()).toEqual(['help', 'listen', 'pod-name', 'policy', 'verbose']);
    expect(help).toContain('--listen <addr>    listen address (default: :8080)');
    expect(help).toContain('--policy <file>    policy files; repeatable');
    expect(help).toContain('-v, --verbose          say more');
    expect(help).toContain('-h, --help             print this help and exit 0');
    expect(help).toMatch(/^ {2}POD_NAME +--pod-name when the flag is not given$/m);
    expect(help).toMatch(/^ {2}DEMO_VERBOSE +--verbose when the flag is not given$/m);
    expect(help).toMatch(/exit codes:\n {2}0 {2}done\n {2}2 {2}bad input$/);
  });
});
