// The serving certificates' expiry on /metrics: agentwarden_certificate_expiry_timestamp_seconds,
// the notAfter of the certificate each port serves now (after the last good reload), so that an
// alert fires before cert-manager's renewal is late enough to break the webhooks or the sidecars.
import { X509Certificate } from 'node:crypto';
import { renderLines } from '../../../common/prometheus.js';

export interface ServedCertificate {
  /** The label value: webhook | distribution. */
  readonly name: string;
  /** The PEM served now (the first certificate is the leaf). */
  readonly pem: () => Buffer;
}

/** notAfter of the first certificate in `pem`, seconds since the epoch; throws on a PEM that is not a certificate. */
export function certificateNotAfter(pem: Buffer): number {
  return Math.floor(Date.parse(new X509Certificate(pem).validTo) / 1000);
}

export class CertificateExpiryMetrics {
  /** The last PEM parsed per certificate and its notAfter: a scrape re-parses only after a reload. */
  private readonly parsed = new Map<string, { readonly pem: Buffer; readonly notAfter: number }>();

  constructor(private readonly certificates: readonly ServedCertificate[]) {}

  render(): string[] {
    const samples = this.certificates.map((c) => ({ labels: { certificate: c.name }, value: this.notAfter(c) }));
    return renderLines([{
      name: 'agentwarden_certificate_expiry_timestamp_seconds', type: 'gauge',
      help: 'notAfter of the serving certificate in use, by port (webhook, distribution), seconds since the epoch.',
      samples,
    }]);
  }

  private notAfter(c: ServedCertificate): number {
    const pem = c.pem();
    const known = this.parsed.get(c.name);
    if (known !== undefined && known.pem === pem) return known.notAfter;
    const notAfter = certificateNotAfter(pem);
    this.parsed.set(c.name, { pem, notAfter });
    return notAfter;
  }
}
