// The reconciler's metric (docs/telemetry.md#metrics): RegistryRepairs, as one Embedded Metric Format line.
import { METRICS_NAMESPACE, REGISTRY_REPAIRS_METRIC } from '../metric-names';

/**
 * Writes the repairs under the relay's `Service` dimension. Straight to stdout, without the prefix the
 * Lambda runtime puts before console output, so that CloudWatch reads the line as EMF.
 */
export function emitRepairs(service: string | undefined, repairs: number, write = (line: string) => process.stdout.write(line)): void {
  if (!service) return;
  write(JSON.stringify({
    _aws: {
      Timestamp: Date.now(),
      CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE, Dimensions: [['Service']], Metrics: [{ Name: REGISTRY_REPAIRS_METRIC, Unit: 'Count' }] }],
    },
    level: 'info',
    msg: 'metric',
    Service: service,
    [REGISTRY_REPAIRS_METRIC]: repairs,
  }) + '\n');
}
