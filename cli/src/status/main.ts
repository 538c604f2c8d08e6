// `agentwarden status`: the controller's /debug/syncz as a table (or JSON).
import { parseCommand } from '../../../common/flags.js';
import { InputError } from '../../../policy/io/manifests.js';
import type { SynczReport } from '../../../common/syncz.js';
import type { CommandIo } from '../command-io.js';
import { EXIT_OK } from '../exit-codes.js';
import { loadKubeConfig } from '../access/kube.js';
import { STATUS_COMMAND } from './command.js';
import { fetchDirect, fetchThroughApiServer } from './fetch.js';
import { statusTable } from './table.js';

export async function runStatus(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values } = parseCommand(STATUS_COMMAND, argv, io.env);
  if (values.output !== 'table' && values.output !== 'json') throw new InputError(`-o: "${values.output}" is not table or json`);
  const url = values['controller-url'];
  if (url !== undefined && !/^https?:\/\/[^/]+/.test(url)) throw new InputError(`--controller-url: "${url}" is not http://host:port`);
  const report: SynczReport = url !== undefined
    ? await fetchDirect(url)
    : await fetchThroughApiServer(loadKubeConfig({ kubeconfig: values.kubeconfig, context: values.context }), {
      namespace: values['controller-namespace'], service: values['controller-service'], port: values['controller-port'],
    });
  if (values.output === 'json') {
    const pods = report.pods.filter((p) => values.namespace === undefined || p.namespace === values.namespace);
    io.out(JSON.stringify({ ...report, pods }, null, 2));
  } else {
    for (const line of statusTable(report, values.namespace, Date.now())) io.out(line);
  }
  return EXIT_OK;
}
