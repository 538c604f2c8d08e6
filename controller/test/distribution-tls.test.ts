// The distribution port's certificate is re-read when its files change, as
// cert-manager renews it: the controller (startController, fake Kube) serves
// with certificate A; the files are swapped for B, signed by the same test CA
// (openssl); a new TLS connection, and a new gRPC channel trusting only the
// test CA, see B without a restart.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { copyFileSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { readControllerConfig } from '../src/config.js';
import { startController, type RunningController } from '../src/main.js';
import { FakeKube, TestPki } from './fake-kube.js';
import { eventually } from './helpers.js';

const pki = new TestPki();
const a = pki.leaf('a', 'distribution-a');
const b = pki.leaf('b', 'distribution-b');
// The files the controller is given, as a Secret volume holds them.
const certFile = join(pki.dir, 'tls.crt');
const keyFile = join(pki.dir, 'tls.key');

/** Replaces `to` in one step, as the kubelet swaps a Secret volume's files. */
function swap(from: string, to: string): void {
  copyFileSync(from, `${to}.new`);
  renameSync(`${to}.new`, to);
}

/** The subject of the certificate a new TLS connection is served, verified against the test CA. */
function servedSubject(address: string): Promise<string> {
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: readFileSync(pki.caCert), ALPNProtocols: ['h2'] }, () => {
      const subject = socket.getPeerX509Certificate()?.subject ?? '';
      socket.end();
      resolve(subject);
    });
    socket.on('error', reject);
  });
}

/** A new gRPC channel that trusts the test CA only: resolves once it is READY (the TLS handshake passed). */
function grpcReady(address: string): Promise<grpc.Client> {
  const client = new grpc.Client(address, grpc.credentials.createSsl(readFileSync(pki.caCert)));
  return new Promise((resolve, reject) => {
    client.waitForReady(Date.now() + 5000, (err) => {
      if (err === undefined) resolve(client);
      else {
        client.close();
        reject(err);
      }
    });
  });
}

describe('the distribution port with certificate files that change', () => {
  let running: RunningController;
  const clients: grpc.Client[] = [];

  beforeAll(async () => {
    swap(a.cert, certFile);
    swap(a.key, keyFile);
    const config = readControllerConfig(['--distribution-listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0', '--leader-elect', 'false', '--identity', 'test', '--tls-cert', certFile, '--tls-key', keyFile], {});
    running = await startController({ ...config, fileReloadMs: 50 }, () => undefined, new FakeKube());
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await running.stop();
  });

  it('serves certificate A from the files it started with', async () => {
    expect(await servedSubject(running.distributionAddress)).toBe('CN=distribution-a');
    clients.push(await grpcReady(running.distributionAddress));
  });

  it('keeps serving A while only the certificate file has been replaced (the key does not match it yet)', async () => {
    swap(b.cert, certFile);
    running.distributionCertificate?.check();
    expect(running.distributionCertificate?.reloadFailures).toBeGreaterThan(0);
    expect(running.distributionCertificate?.reloads).toBe(0);
    expect(await servedSubject(running.distributionAddress)).toBe('CN=distribution-a');
  });

  it('serves certificate B to a new connection once both files are B, without a restart', async () => {
    swap(b.key, keyFile);
    await eventually('the certificate to be reloaded', () => (running.distributionCertificate?.reloads === 1 ? true : undefined));
    expect(await servedSubject(running.distributionAddress)).toBe('CN=distribution-b');
    clients.push(await grpcReady(running.distributionAddress));
    // The channel opened under A was not dropped by the swap.
    expect(clients[0]?.getChannel().getConnectivityState(false)).toBe(grpc.connectivityState.READY);
  });

  it('reports the reloads in /metrics', async () => {
    const text = await (await fetch(`http://${running.metricsAddress}/metrics`)).text();
    expect(text).toContain('agentwarden_distribution_cert_reloads_total 1');
    expect(text).toMatch(/^agentwarden_distribution_cert_reload_failures_total [1-9]\d*$/m);
  });

  it('refuses to start when the files do not hold a matching pair, naming them', async () => {
    const config = readControllerConfig(['--distribution-listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0', '--leader-elect', 'false', '--tls-cert', b.cert, '--tls-key', a.key], {});
    await expect(startController(config, () => undefined, new FakeKube())).rejects.toThrow(`distribution: cannot load --tls-cert ${b.cert} / --tls-key ${a.key}: `);
  });
});
