// The gRPC port of PolicyDistribution: TLS with a certificate re-read when its
// files change, or plaintext on a loopback address only.
import * as grpc from '@grpc/grpc-js';
import { isLoopback } from '../../../common/distribution-service.js';
import type { Log } from '../log.js';
import { ReloadingServingCertificate, reloadingServerCredentials } from './certificates.js';
import type { DistributionServer } from './server.js';

/** What the distribution port needs of the controller's configuration (main.ts passes it). */
export interface DistributionListenOptions {
  /** host:port to bind. */
  readonly distributionListen: string;
  /** Serving certificate and key files; both or neither (then loopback only). */
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  /** How often the certificate files are checked for changes, ms. */
  readonly fileReloadMs: number;
}

export interface ListeningDistribution {
  readonly server: grpc.Server;
  /** host:port actually bound. */
  readonly distributionAddress: string;
  readonly distributionCertificate: ReloadingServingCertificate | undefined;
}

/** What the distribution port needs of the controller's configuration (main.ts passes its config). */
export interface DistributionListenOptions {
  /** host:port; a loopback address without TLS. */
  readonly distributionListen: string;
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  /** How often the certificate files are checked for a change, ms. */
  readonly fileReloadMs: number;
}

/** The gRPC distribution server: TLS (its certificate re-read when the files change), or plaintext on loopback only. */
export async function startDistribution(config: DistributionListenOptions, distribution: DistributionServer, log: Log): Promise<ListeningDistribution> {
  const server = new grpc.Server({ 'grpc.max_send_message_length': 64 << 20, 'grpc.keepalive_time_ms': 30_000, 'grpc.keepalive_timeout_ms': 10_000 });
  distribution.register(server);
  let creds: grpc.ServerCredentials;
  let distributionCertificate: ReloadingServingCertificate | undefined;
  if (config.tlsCert !== undefined && config.tlsKey !== undefined) {
    distributionCertificate = new ReloadingServingCertificate({ certFile: config.tlsCert, keyFile: config.tlsKey, reloadMs: config.fileReloadMs, log: (level, msg, fields) => { log(level, msg, fields); } });
    creds = reloadingServerCredentials(distributionCertificate);
  } else {
    if (!isLoopback(config.distributionListen)) throw new Error(`controller: --distribution-listen ${config.distributionListen} is not loopback; give --tls-cert and --tls-key`);
    creds = grpc.ServerCredentials.createInsecure();
  }
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(config.distributionListen, creds, (err, p) => (err === null ? resolve(p) : reject(new Error(`controller: cannot listen on ${config.distributionListen}: ${err.message}`, { cause: err }))));
  }).catch((e: unknown) => {
    distributionCertificate?.close();
    throw e;
  });
  return { server, distributionAddress: `${config.distributionListen.slice(0, config.distributionListen.lastIndexOf(':'))}:${port}`, distributionCertificate };
}
