// agentwarden check | test | inject: the commands that read files only, run
// in-process and synchronously; returns the exit code.
import { PolicyError } from '../../policy/src/index.js';
import { InputError } from '../../policy/io/manifests.js';
import { SnapshotLoadError } from '../../policy/src/load.js';
import { decisionJson, runCheck } from './check.js';
import { runSuites, suiteFiles } from './test-suite.js';
import { runInject } from './inject.js';
import { CHECK_COMMAND, INJECT_COMMAND, TEST_COMMAND } from './help.js';
import { commandHelp, isUsageError, parseCommand } from '../../common/flags.js';
import { HelpRequested } from '../../common/help.js';
import { EXIT_FAILED, EXIT_INPUT, EXIT_OK } from './exit-codes.js';

export type LocalCommand = 'check' | 'test' | 'inject';

export function localCommand(command: LocalCommand, rest: readonly string[], out: (s: string) => void, err: (s: string) => void): number {
  try {
    switch (command) {
      case 'check': return check(rest, out);
      case 'test': return test(rest, out, err);
      case 'inject': return inject(rest, out, err);
    }
  } catch (e: unknown) {
    if (e instanceof HelpRequested) {
      out(e.text);
      return EXIT_OK;
    }
    if (e instanceof PolicyError || e instanceof InputError || e instanceof SnapshotLoadError) {
      err(e.message);
      return EXIT_INPUT;
    }
    if (isUsageError(e)) {
      err(`agentwarden ${command}: ${e.message} (agentwarden ${command} --help lists the flags)`);
      return EXIT_INPUT;
    }
    throw e;
  }
}

function check(args: readonly string[], out: (s: string) => void): number {
  const { values } = parseCommand(CHECK_COMMAND, args);
  const missing = (['policy', 'pod', 'request'] as const).filter((k) => values[k] === undefined || values[k].length === 0);
  if (missing.length > 0) throw new InputError(`agentwarden check: missing ${missing.map((m) => `--${m}`).join(', ')}\n${commandHelp(CHECK_COMMAND)}`);
  const decisions = runCheck({ policy: values.policy, pod: values.pod ?? '', request: values.request, now: values.now, grant: values.grant }, Date.now());
  // One request: indented, as always; several: one compact line per decision.
  for (const d of decisions) out(decisions.length === 1 ? JSON.stringify(decisionJson(d), null, 2) : JSON.stringify(decisionJson(d)));
  return EXIT_OK;
}

function test(args: readonly string[], out: (s: string) => void, err: (s: string) => void): number {
  const { positionals } = parseCommand(TEST_COMMAND, args);
  if (positionals.length === 0) throw new InputError(`agentwarden test: give at least one folder or suite file\n${commandHelp(TEST_COMMAND)}`);
  const files = suiteFiles(positionals);
  if (files.length === 0) throw new InputError(`agentwarden test: no *.test.yaml under ${positionals.join(', ')}`);
  const run = runSuites(files, Date.now());
  for (const r of run.results) {
    out(`${r.passed ? 'PASS' : 'FAIL'} ${r.suite} › ${r.name}`);
    for (const p of r.problems) out(`     ${p}`);
  }
  for (const e of run.errors) err(`ERROR ${e}`);
  const passed = run.results.filter((r) => r.passed).length;
  const failed = run.results.length - passed + run.errors.length;
  out(`${passed} passed, ${failed} failed`);
  if (run.errors.length > 0) return EXIT_INPUT;
  return failed > 0 ? EXIT_FAILED : EXIT_OK;
}

function inject(args: readonly string[], out: (s: string) => void, err: (s: string) => void): number {
  const { values } = parseCommand(INJECT_COMMAND, args);
  if (values.filename === undefined) throw new InputError(`agentwarden inject: missing -f <file|->\n${commandHelp(INJECT_COMMAND)}`);
  runInject({ filename: values.filename, options: values.options, namespaceLabels: values['namespace-labels'], output: values.output }, out, err);
  return EXIT_OK;
}
