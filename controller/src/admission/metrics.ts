// Counts of admission reviews per webhook and outcome, for /metrics.

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

  /** Prometheus text lines (HELP, TYPE and samples) for agentwarden_admission_reviews_total. */
  render(): string[] {
    const lines = ['# HELP agentwarden_admission_reviews_total Admission reviews answered, by webhook and outcome.', '# TYPE agentwarden_admission_reviews_total counter'];
    for (const [key, n] of [...this.counts.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const [webhook, outcome] = key.split('\u0000');
      lines.push(`agentwarden_admission_reviews_total{webhook="${webhook ?? ''}",outcome="${outcome ?? ''}"} ${n}`);
    }
    return lines;
  }
}
