// Counts of admission reviews per webhook and outcome, for /metrics.
import { renderLines } from '../../../common/prometheus.js';

export type ReviewOutcome = 'allowed' | 'patched' | 'denied' | 'malformed' | 'error';

export class WebhookMetrics {
  private readonly counts = new Map<string, number>();

  count(webhook: string, outcome: ReviewOutcome): void {
    const key = `${webhook}\u0000${outcome}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  get(webhook: string, outcome: ReviewOutcome): number {
    return this.counts.get(`${webhook}\u0000${outcome}`) ?? 0;
  }

  /** Prometheus text lines (HELP, TYPE and samples) for agentwarden_admission_reviews_total (common/prometheus.ts). */
  render(): string[] {
    const samples = [...this.counts.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, value]) => {
      const [webhook, outcome] = key.split('\u0000');
      return { labels: { webhook: webhook ?? '', outcome: outcome ?? '' }, value };
    });
    return renderLines([{ name: 'agentwarden_admission_reviews_total', type: 'counter', help: 'Admission reviews answered, by webhook and outcome.', samples }]);
  }
}
