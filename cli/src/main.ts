// bin/agentwarden: check | test | inject (sidecar and controller start in run.ts).
import { parseArgs } from 'node:util';
import { PolicyError } from '../../policy/src/index.js';
import { InputError } from '../../policy/io/manifests.js';
import { SnapshotLoadError } from '../../policy/src/load.js';
import { decisionJson, runCheck } from './check.js';
import { runSuites, suiteFiles } from './test-suite.js';
import { runInject } from './inject.js';
import { CHECK_HELP, INJECT_HELP, TEST_HELP } from './help.js';
import { EXIT_FAILED, EXIT_INPUT, EXIT_OK } from './exit-codes.js';

const USAGE = `usage:
  agentwarden check --policy <file|dir> [--policy ...] --pod <pod.yaml> --request <checkrequest.json> [--request ...] [--grant <file|dir> ...] [--now RFC3339]
  agentwarden test <dir|file.test.yaml>...
  agentwarden sidecar (--policy <file|dir> --pod <pod.yaml> | --controller <addr> --pod-name <name> --namespace <ns>) [--listen addr] [--admin-listen addr]
  agentwarden controller [--kubeconfig file] [--distribution-listen addr] [--metrics-listen addr] [--webhook-cert file --webhook-key file] ...
  agentwarden inject -f <file|-> [--options file] [--namespace-labels k=v,...] [-o yaml|json]
  agentwarden approve <ns>/<name> [--for 15m] [--reason ...]
  agentwarden deny <ns>/<name> [--reason ...]
  agentwarden review <ns>/<name> --notes ...
  agentwarden grant (--pod <name> | --selector k=v,...) -n <ns> --service-account <sa> --rule-file <file> --for 1h --justification ...
  agentwarden requests [-n <ns> | -A] [--state Pending,Approved,...]
  agentwarden baseline accept <ns>/<serviceaccount> --operation "GET host/path" [--operation ...]
  agentwarden release <ns>/<pod>

check prints one JSON decision {allowed, mode, policy, rule, reason, auditDecision} (several --request:
one compact line each, decided in order against one state) and exits 0;
invalid input exits 2. test runs policy test suites (*.test.yaml) and exits 1 when any case fails.
inject prints the manifests with the proxy injected as the admission webhook would.
approve, deny, review and grant decide AgentAccessRequests through the API server (kubeconfig as
kubectl: --kubeconfig, KUBECONFIG, --context); requests lists them. baseline accept adds operations
to an agent identity's AgentBaseline; release ends a pod's quarantine (spec.anomaly).
agentwarden <command> --help lists the command's flags and their defaults.`;

export { EXIT_FAILED, EXIT_INPUT, EXIT_OK } from './exit-codes.js';

export function main(argv: readonly string[], out: (s: string) => void, err: (s: string) => void): number {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'check': return check(rest, out);
      case 'test': return test(rest, out, err);
      case 'inject': return inject(rest, out, err);
      case undefined: case '-h': case '--help': case 'help':
        out(USAGE);
        return command === undefined ? EXIT_INPUT : EXIT_OK;
      default:
        err(`agentwarden: unknown command "${command}"\n${USAGE}`);
        return EXIT_INPUT;
    }
  } catch (e: unknown) {
    if (e instanceof PolicyError || e instanceof InputError || e instanceof SnapshotLoadError) {
      err(e.message);
      return EXIT_INPUT;
    }
    if (e instanceof Error && 'code' in e && typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS')) {
      err(`agentwarden ${command ?? ''}: ${e.message}\n${USAGE}`);
      return EXIT_INPUT;
    }
    throw e;
  }
}

function check(args: readonly string[], out: (s: string) => void): number {
  const { values } = parseArgs({
    args: [...args],
    options: { policy: { type: 'string', multiple: true }, pod: { type: 'string' }, request: { type: 'string', multiple: true }, grant: { type: 'string', multiple: true }, now: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help === true) return help(CHECK_HELP, out);
  const missing = ['policy', 'pod', 'request'].filter((k) => values[k as keyof typeof values] === undefined);
  if (missing.length > 0) throw new InputError(`agentwarden check: missing ${missing.map((m) => `--${m}`).join(', ')}\n${USAGE}`);
  const decisions = runCheck({ policy: values.policy ?? [], pod: values.pod ?? '', request: values.request ?? [], now: values.now, grant: values.grant ?? [] }, Date.now());
  // One request: indented, as always; several: one compact line per decision.
  for (const d of decisions) out(decisions.length === 1 ? JSON.stringify(decisionJson(d), null, 2) : JSON.stringify(decisionJson(d)));
  return EXIT_OK;
}

function test(args: readonly string[], out: (s: string) => void, err: (s: string) => void): number {
  const { values, positionals } = parseArgs({ args: [...args], options: { help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  if (values.help === true) return help(TEST_HELP, out);
  if (positionals.length === 0) throw new InputError(`agentwarden test: give at least one folder or suite file\n${USAGE}`);
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
  const { values } = parseArgs({
    args: [...args],
    options: {
      filename: { type: 'string', short: 'f' },
      options: { type: 'string' },
      'namespace-labels': { type: 'string' },
      output: { type: 'string', short: 'o', default: 'yaml' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) return help(INJECT_HELP, out);
  if (values.filename === undefined) throw new InputError(`agentwarden inject: missing -f <file|->\n${INJECT_HELP}`);
  runInject({ filename: values.filename, options: values.options, namespaceLabels: values['namespace-labels'], output: values.output }, out, err);
  return EXIT_OK;
}

function help(text: string, out: (s: string) => void): number {
  out(text);
  return EXIT_OK;
}
