// A test PKI made with the openssl CLI: one CA, and leaf certificates for DNS
// names and IP addresses signed by it (the controller's stream, HTTPS upstreams).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './netns.js';

export interface TestCa { readonly dir: string; readonly cert: string; readonly key: string }
export interface Leaf { readonly cert: string; readonly key: string }

async function openssl(args: readonly string[]): Promise<void> {
  const r = await run('openssl', args);
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr.trim()}`);
}

export async function makeCa(dir: string, name = 'agentwarden-pod-harness-ca'): Promise<TestCa> {
  mkdirSync(dir, { recursive: true });
  const ca = { dir, cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', ca.key, '-out', ca.cert, '-subj', `/CN=${name}`, '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return ca;
}

/** A server certificate for `names` (DNS names or IP addresses), valid two days. */
export async function issue(ca: TestCa, file: string, names: readonly string[]): Promise<Leaf> {
  const leaf = { cert: join(ca.dir, `${file}.crt`), key: join(ca.dir, `${file}.key`) };
  const san = names.map((n) => (/^[0-9.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  const csr = join(ca.dir, `${file}.csr`);
  await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', leaf.key, '-out', csr, '-subj', `/CN=${names[0] ?? file}`]);
  const ext = join(ca.dir, `${file}.ext`);
  writeFileSync(ext, `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n`);
  await openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', leaf.cert, '-days', '2', '-sha256', '-extfile', ext]);
  return leaf;
}
