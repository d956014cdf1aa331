import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';

/** Options of the `SessionsFailed` metric. */
export interface RelayFailureMetricOptions extends cloudwatch.MetricOptions {
  /**
   * Only sessions that ended with this error code (docs/protocol.md#close-codes), e.g. `INGEST_FAILED`.
   * @default - failures with any code
   */
  readonly code?: string;
}
