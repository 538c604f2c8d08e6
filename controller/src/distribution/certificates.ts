// The distribution port's serving certificate, re-read when its files change
// (cert-manager renews it in place), through grpc-js's certificate provider
// interface: the server swaps its TLS context for new connections, and streams
// that are open keep the certificate they were set up with.
//
// Not grpc-js's own FileWatcherCertificateProvider: it re-reads the files on
// every interval and, when a read fails or the pair does not match (a rotation
// half done), hands the server no certificate, which then drops every new
// connection until the next good read. This one keeps serving the last good pair.
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { FilePoller } from '../files/poll.js';

type IdentityUpdate = grpc.experimental.IdentityCertificateUpdate;
type IdentityListener = grpc.experimental.IdentityCertificateUpdateListener;

export interface ServingCertificateOptions {
  readonly certFile: string;
  readonly keyFile: string;
  /** How often the files are checked for a change, ms. */
  readonly reloadMs: number;
  readonly log: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
}

/** Reads a certificate and key and checks that they belong together. Throws naming the files. */
export function readServingPair(certFile: string, keyFile: string): IdentityUpdate {
  try {
    const certificate = readFileSync(certFile);
    const privateKey = readFileSync(keyFile);
    // Throws on unparsable PEM and on a key that does not match the certificate.
    createSecureContext({ cert: certificate, key: privateKey });
    return { certificate, privateKey };
  } catch (e: unknown) {
    throw new Error(`distribution: cannot load --tls-cert ${certFile} / --tls-key ${keyFile}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

export class ReloadingServingCertificate implements grpc.experimental.CertificateProvider {
  private current: IdentityUpdate;
  private readonly listeners = new Set<IdentityListener>();
  private readonly poller: FilePoller;
  private reloadCount = 0;
  private failureCount = 0;

  /** Reads the pair now: a controller that cannot serve its certificate does not start. */
  constructor(private readonly options: ServingCertificateOptions) {
    this.poller = new FilePoller({ files: [options.certFile, options.keyFile], intervalMs: options.reloadMs, onChange: () => this.reload() });
    this.current = readServingPair(options.certFile, options.keyFile);
    this.poller.start();
  }

  /** Times a changed pair was taken, and times a changed pair could not be. */
  get reloads(): number { return this.reloadCount; }
  get reloadFailures(): number { return this.failureCount; }
  /** The certificate (PEM) served now. */
  get certificate(): Buffer { return this.current.certificate; }

  /** Checks the files now instead of at the next interval. */
  check(): void {
    this.poller.check();
  }

  close(): void {
    this.poller.stop();
    this.listeners.clear();
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.listeners.add(listener);
    process.nextTick(() => { if (this.listeners.has(listener)) listener(this.current); });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.listeners.delete(listener);
  }

  // The server verifies no client certificates: no CA updates.
  addCaCertificateListener(): void { /* none */ }
  removeCaCertificateListener(): void { /* none */ }

  private reload(): boolean {
    let next: IdentityUpdate;
    try {
      next = readServingPair(this.options.certFile, this.options.keyFile);
    } catch (e: unknown) {
      this.failureCount++;
      this.options.log('warn', 'distribution certificate reload failed; keeping the previous one', { error: e instanceof Error ? e.message : String(e) });
      return false;
    }
    this.current = next;
    this.reloadCount++;
    for (const listener of this.listeners) listener(next);
    this.options.log('info', 'distribution certificate reloaded', { cert: this.options.certFile });
    return true;
  }
}

/**
 * Server credentials serving `provider`'s certificate. grpc-js declares the first parameter
 * of createCertificateProviderServerCredentials as "caCertificateProvider", but passes it on
 * as the identity (serving certificate) provider; the second is the CA for client
 * certificates, which this server does not ask for.
 */
export function reloadingServerCredentials(provider: ReloadingServingCertificate): grpc.ServerCredentials {
  return grpc.experimental.createCertificateProviderServerCredentials(provider, null, false);
}
