import { describe, expect, it } from 'vitest';
import { emf, METRICS_NAMESPACE } from '#lib/jobs/metrics';

describe('emf', () => {
  it('declares each count as a Count metric along the dimensions, in the jobs namespace', () => {
    const member = emf(['job'], { done: 3, retried: 1 }, 1_767_225_600_000);

    expect(METRICS_NAMESPACE).toBe('authgate/jobs');
    expect(member).toEqual({
      _aws: {
        Timestamp: 1_767_225_600_000,
        CloudWatchMetrics: [
          {
            Namespace: 'authgate/jobs',
            Dimensions: [['job']],
            Metrics: [
              { Name: 'done', Unit: 'Count' },
              { Name: 'retried', Unit: 'Count' },
            ],
          },
        ],
      },
    });
  });

  it('declares names only: the values stay root-level fields of the line', () => {
    expect(JSON.stringify(emf(['job', 'source'], { failed: 42 }, 0))).not.toContain('42');
  });
});
