/**
 * CloudWatch Embedded Metric Format: a log line with an `_aws` member whose root-level fields
 * CloudWatch Logs turns into metrics, with no agent, no SDK call and no extra latency
 * (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
 * The job summary line carries it, so the summary and the metrics can never disagree.
 */

export const METRICS_NAMESPACE = 'authgate/jobs';

/**
 * The `_aws` member declaring `counts` (already root-level fields of the line) as Count metrics
 * along the given dimension fields.
 *
 * @example
 * log.info('job summary', { job: 'logout', done: 3, retried: 1, ...emf(['job'], { done: 3, retried: 1 }) });
 */
export function emf(dimensions: string[], counts: Record<string, number>, now = Date.now()): { _aws: unknown } {
  return {
    _aws: {
      Timestamp: now,
      CloudWatchMetrics: [
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions: [dimensions],
          Metrics: Object.keys(counts).map((Name) => ({ Name, Unit: 'Count' })),
        },
      ],
    },
  };
}
