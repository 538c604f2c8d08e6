// A test CA and leaf certificates made with the openssl CLI. The CA lives in DIR/ca/ and is
// made once: it is built in a temporary folder and renamed into place, so two upstreams
// started at once with the same DIR agree on one CA (the loser of the rename uses the
// winner's). Each call signs a new leaf in its own DIR/leaf-XXXXXX/ for the given names
// (an IP literal becomes an IP SAN, anything else a DNS SAN).
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const OPENSSL = '/usr/bin/openssl';
const CA_SUBJECT = '/CN=agentwarden e2e test CA';
const VALID_DAYS = '7';
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export interface TestCaFiles {
  /** PEM of the CA certificate: what Envoy's upstreamCaFile points at. */
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export async function makeTestCa(dir: string, names: readonly string[]): Promise<TestCaFiles> {
  if (names.length === 0) throw new Error('makeTestCa: at least one DNS name or IP is needed');
  await mkdir(dir, { recursive: true });
  const caDir = await ensureCa(dir);
  const leafDir = await mkdtemp(join(dir, 'leaf-'));
  const keyFile = join(leafDir, 'leaf.key');
  const csrFile = join(leafDir, 'leaf.csr');
  const certFile = join(leafDir, 'leaf.crt');
  const extFile = join(leafDir, 'leaf.ext');
  const sans = names.map((name) => (isIP(name) === 0 ? `DNS:${name}` : `IP:${name}`)).join(',');
  await writeFile(
    extFile,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=${sans}`,
      'subjectKeyIdentifier=hash',
      'authorityKeyIdentifier=keyid',
      '',
    ].join('\n'),
  );
  await openssl(['req', '-new', ...EC_KEY, '-keyout', keyFile, '-out', csrFile, '-subj', `/CN=${names[0]}`]);
  await openssl([
    'x509', '-req', '-in', csrFile, '-CA', join(caDir, 'ca.crt'), '-CAkey', join(caDir, 'ca.key'),
    '-set_serial', `0x${Date.now().toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`,
    '-days', VALID_DAYS, '-sha256', '-extfile', extFile, '-out', certFile,
  ]);
  return { caFile: join(caDir, 'ca.crt'), certFile, keyFile };
}

async function ensureCa(dir: string): Promise<string> {
  const caDir = join(dir, 'ca');
  if (await exists(join(caDir, 'ca.crt'))) return caDir;
  const building = await mkdtemp(join(dir, 'ca-building-'));
  await openssl([
    'req', '-x509', ...EC_KEY, '-keyout', join(building, 'ca.key'), '-out', join(building, 'ca.crt'),
    '-days', VALID_DAYS, '-sha256', '-subj', CA_SUBJECT,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  try {
    await rename(building, caDir);
  } catch (error: unknown) {
    // Another process renamed its CA into place first: use that one.
    await rm(building, { recursive: true, force: true });
    if (!(await exists(join(caDir, 'ca.crt')))) throw new Error(`makeTestCa: cannot create ${caDir}`, { cause: error });
  }
  return caDir;
}

async function openssl(args: readonly string[]): Promise<void> {
  try {
    await run(OPENSSL, args, { timeout: 30_000 });
  } catch (error: unknown) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0] ?? ''} ${args[1] ?? ''}: ${stderr.trim() || String(error)}`, { cause: error });
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
