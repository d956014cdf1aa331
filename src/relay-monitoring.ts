import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from './metric-names';

/** One of the relay's own metrics, under its `Service` dimension (and `extra` dimensions). */
export function relayMetric(
  serviceName: string, metricName: string, defaults: cloudwatch.MetricOptions, options: cloudwatch.MetricOptions = {},
  extra: Record<string, string> = {},
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    period: Duration.minutes(1),
    ...defaults,
    ...options,
    dimensionsMap: { Service: serviceName, ...extra, ...options.dimensionsMap },
  });
}

/** What the alarms watch. */
export interface RelayAlarmTargets {
  readonly service: ecs.FargateService;
  readonly trackerFunction: lambda.IFunction;
  readonly deadLetterQueue: sqs.IQueue;
  readonly sessionsStarted: cloudwatch.IMetric;
  readonly sessionsFailed: cloudwatch.IMetric;
  readonly uncaughtExceptions: cloudwatch.IMetric;
  readonly registryRepairs: cloudwatch.IMetric;
}

/**
 * The opt-in alarms (README, "Operate it"), each with a threshold meant to need a person:
 * the registry can go stale (tracker errors, dead letters), the fleet can be short of tasks,
 * streams can fail at a rate no single broadcaster explains, and the tasks can run hot.
 */
export function createAlarms(scope: Construct, t: RelayAlarmTargets): cloudwatch.Alarm[] {
  const fiveMinutes = Duration.minutes(5);
  const clusterDims = { ClusterName: t.service.cluster.clusterName, ServiceName: t.service.serviceName };
  const insight = (metricName: string) => new cloudwatch.Metric({
    namespace: 'ECS/ContainerInsights', metricName, dimensionsMap: clusterDims, statistic: cloudwatch.Stats.AVERAGE, period: Duration.minutes(1),
  });
  // An alarm on something that should never happen at all: one occurrence, in each of `periods` periods, is enough.
  const onAny = (id: string, alarmDescription: string, metric: cloudwatch.IMetric, periods = 1) => new cloudwatch.Alarm(scope, id, {
    alarmDescription,
    metric,
    threshold: 1,
    evaluationPeriods: periods,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  return [
    onAny('TrackerErrors', 'The task tracker failed: the registry may not list every running relay.',
      t.trackerFunction.metricErrors({ period: fiveMinutes, statistic: cloudwatch.Stats.SUM })),
    onAny('TrackerDeadLetters', 'Task state changes the tracker could not record are waiting in its dead-letter queue.',
      t.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes, statistic: cloudwatch.Stats.MAXIMUM })),
    new cloudwatch.Alarm(scope, 'RegistryRepairs', {
      alarmDescription: 'The registry reconciler repaired the registry in 2 of the last 3 five-minute periods: task events keep '
        + 'getting lost (see the tracker\'s errors and dead-letter queue). One repair alone can be a race with an event in flight.',
      metric: t.registryRepairs,
      threshold: 1,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }),
    onAny('TasksBelowDesired', 'Fewer relay tasks run than the service wants, for 10 minutes (Container Insights).',
      new cloudwatch.MathExpression({
        expression: 'desired - running',
        usingMetrics: { desired: insight('DesiredTaskCount'), running: insight('RunningTaskCount') },
        period: Duration.minutes(1),
      }), 10),
    new cloudwatch.Alarm(scope, 'SessionsFailing', {
      alarmDescription: 'More than 20% of sessions failed in 5 minutes (with at least 5 started).',
      metric: new cloudwatch.MathExpression({
        expression: 'IF(started >= 5, 100 * failed / started, 0)',
        usingMetrics: { started: t.sessionsStarted, failed: t.sessionsFailed },
        period: fiveMinutes,
      }),
      threshold: 20,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }),
    onAny('RelayBugs', 'A relay caught an exception nothing handled: a bug, worth a look even when streams carried on.', t.uncaughtExceptions),
    new cloudwatch.Alarm(scope, 'CpuHigh', {
      alarmDescription: 'Relay tasks used over 80% CPU for 15 minutes: streams may stop keeping real time.',
      metric: t.service.metricCpuUtilization({ period: fiveMinutes }),
      threshold: 80,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    }),
    new cloudwatch.Alarm(scope, 'MemoryHigh', {
      alarmDescription: 'Relay tasks used over 80% of their memory for 15 minutes.',
      metric: t.service.metricMemoryUtilization({ period: fiveMinutes }),
      threshold: 80,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    }),
  ];
}

/** What the dashboard shows. */
export interface RelayDashboardSources {
  readonly service: ecs.FargateService;
  readonly activeSessions: cloudwatch.IMetric;
  readonly sessionsStarted: cloudwatch.IMetric;
  readonly sessionsFailed: cloudwatch.IMetric;
  readonly ingestBitrate: cloudwatch.IMetric;
  readonly droppedFrames: cloudwatch.IMetric;
  readonly alarms: cloudwatch.IAlarm[];
}

/** A dashboard of the relay's sessions, ingest health, task load and alarms. */
export function createDashboard(scope: Construct, s: RelayDashboardSources): cloudwatch.Dashboard {
  const dashboard = new cloudwatch.Dashboard(scope, 'Dashboard');
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({ title: 'Live sessions per task', left: [s.activeSessions] }),
    new cloudwatch.GraphWidget({ title: 'Sessions started and failed', left: [s.sessionsStarted, s.sessionsFailed] }),
    new cloudwatch.GraphWidget({ title: 'Ingest bitrate (kb/s) and dropped frames', left: [s.ingestBitrate], right: [s.droppedFrames] }),
  );
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({ title: 'Task CPU and memory (%)', left: [s.service.metricCpuUtilization(), s.service.metricMemoryUtilization()] }),
    ...(s.alarms.length > 0 ? [new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: s.alarms, width: 12 })] : []),
  );
  return dashboard;
}
