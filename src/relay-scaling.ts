import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import { acknowledgeFinding, iam5ResourceFinding } from './nag-finding';

/** Automatic scaling of the relay service on live sessions per task. */
export interface RelayScalingOptions {
  /**
   * Fewest tasks.
   * @default 1
   */
  readonly minTasks?: number;
  /** Most tasks. */
  readonly maxTasks: number;
  /**
   * Live sessions per task to aim for (the relay's `ActiveSessions` metric, averaged over tasks).
   * Copy sessions are cheap (dozens per vCPU); transcodes need about a vCPU each: size this for your mix.
   * @default 20
   */
  readonly targetSessionsPerTask?: number;
  /**
   * Time between scale-in steps. Tasks with live sessions are protected from scale-in anyway.
   * @default Duration.minutes(5)
   */
  readonly scaleInCooldown?: Duration;
  /**
   * Time between scale-out steps.
   * @default Duration.minutes(1)
   */
  readonly scaleOutCooldown?: Duration;
  /**
   * Let each relay protect its own task from scale-in while it has live sessions (ECS task
   * scale-in protection), so scaling in never cuts a stream. The same protection holds back
   * deployments: a redeploy replaces a busy task only once its streams end (or the protection
   * lapses, an hour after a relay stops renewing it), so `cdk deploy` can wait that long.
   * Without it, scale-in and deployments stop busy tasks after the relay's drain (100 s).
   * @default true
   */
  readonly scaleInProtection?: boolean;
}

/**
 * Target tracking on `ActiveSessions` averaged per task. With `scaleInProtection`, a relay with live
 * sessions turns on ECS task scale-in protection (RELAY_SCALE_IN_PROTECTION), so scaling in only
 * ever stops idle tasks; the protection expires by itself if a relay dies holding it.
 * @returns the scalable task count, for the caller's own policies
 */
export function applyScaling(
  service: ecs.FargateService, taskRole: iam.IRole, metricDimension: string, options: RelayScalingOptions,
): ecs.ScalableTaskCount {
  const minTasks = options.minTasks ?? 1;
  const target = options.targetSessionsPerTask ?? 20;

  const scalable = service.autoScaleTaskCount({ minCapacity: minTasks, maxCapacity: options.maxTasks });
  scalable.scaleToTrackCustomMetric('SessionsPerTask', {
    metric: new cloudwatch.Metric({
      namespace: 'TranswrapRelay',
      metricName: 'ActiveSessions',
      dimensionsMap: { Service: metricDimension },
      statistic: cloudwatch.Stats.AVERAGE,
      period: Duration.minutes(1),
    }),
    targetValue: target,
    scaleInCooldown: options.scaleInCooldown ?? Duration.minutes(5),
    scaleOutCooldown: options.scaleOutCooldown ?? Duration.minutes(1),
  });

  if (options.scaleInProtection ?? true) allowScaleInProtection(service, taskRole);
  return scalable;
}

function allowScaleInProtection(service: ecs.FargateService, taskRole: iam.IRole): void {
  // The relay sets its own task's protection through the ECS agent, which calls ECS with the task role.
  const stack = Stack.of(service);
  const tasksOfCluster = stack.formatArn({ service: 'ecs', resource: 'task', resourceName: `${service.cluster.clusterName}/*` });
  const policy = new iam.Policy(service, 'ScaleInProtectionPolicy', {
    statements: [new iam.PolicyStatement({
      actions: ['ecs:UpdateTaskProtection', 'ecs:GetTaskProtection'],
      resources: [tasksOfCluster],
    })],
  });
  taskRole.attachInlinePolicy(policy);
  acknowledgeFinding(policy, iam5ResourceFinding(stack, tasksOfCluster),
    'Task ids are only known at run time; the statement covers scale-in protection of tasks in this cluster only.');
}
