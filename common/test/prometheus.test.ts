// The one Prometheus text renderer of the sidecar and the controller.
import { describe, expect, it } from '@jest/globals';
import { histogramSamples, renderExposition, single } from '../prometheus.js';

describe('renderExposition', () => {
  it('writes HELP and TYPE once per family, then its samples with escaped label values', () => {
    const text = renderExposition([
      { name: 'x_total', type: 'counter', help: 'Things.', samples: [{ labels: { rule: 'a"b\\c\nd', policy: '' }, value: 2 }, { labels: { rule: 'e', policy: 'p' }, value: 0 }] },
      single('up', 'gauge', 'Line one\nline two.', 1),
    ]);
    expect(text).toBe([
      '# HELP x_total Things.',
      '# TYPE x_total counter',
      'x_total{rule="a\\"b\\\\c\\nd",policy=""} 2',
      'x_total{rule="e",policy="p"} 0',
      '# HELP up Line one\\nline two.',
      '# TYPE up gauge',
      'up 1',
      '',
    ].join('\n'));
  });

  it('writes a histogram as cumulative buckets, +Inf, _sum and _count', () => {
    const text = renderExposition([{ name: 'd_seconds', type: 'histogram', help: 'D.', samples: histogramSamples([0.1, 1], [2, 3], 1.5, 6) }]);
    expect(text.split('\n').slice(2, -1)).toEqual([
      'd_seconds_bucket{le="0.1"} 2', 'd_seconds_bucket{le="1"} 5', 'd_seconds_bucket{le="+Inf"} 6', 'd_seconds_sum 1.5', 'd_seconds_count 6',
    ]);
  });
});
