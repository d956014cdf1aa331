import { CustomResource, Duration, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { functionRoleWithLogs } from './function-role';
import { acknowledgeFinding, iam5ResourceFinding } from './nag-finding';
import { ReconcilerFunction } from './reconciler/reconciler-function';
import { allowTaskRecordChanges, allowEniReads, TaskRecordsOptions } from './task-tracker';

/** Properties of a {@link RegistryReconciler}. */
export interface RegistryReconcilerProps {
  readonly cluster: ecs.ICluster;
  /** The relay service's name, known before the service exists. */
  readonly serviceName: string;
  /** What every name the relay service has had starts with, so items of a replaced service are closed too. */
  readonly serviceGroupPrefix: string;
  readonly table: dynamodb.ITable;
  readonly port: number;
  readonly logRetention: logs.RetentionDays;
  /** The `Service` dimension of the `RegistryRepairs` metric. */
  readonly metricsServiceName: string;
  /** How often it runs; undefined for never (it still runs after each deploy and on delete). */
  readonly interval?: Duration;
  readonly dns?: TaskRecordsOptions;
}

/**
 * Heals the registry by itself (docs/registry.md#reconciler): lists the service's tasks and writes what the
 * event path would have written, on a schedule, after each deploy of the service, and once on delete, after
 * the service and the tracker are gone and before the table or the hosted zone, to close every item and
 * remove every task record.
 */
export class RegistryReconciler extends Construct {
  /** The Lambda function that reconciles. */
  public readonly function: lambda.Function;
  /**
   * Closes the registry on delete. Whatever could still write it (the service's tasks through the tracker,
   * the schedule) must depend on it, so that CloudFormation deletes those first.
   */
  public readonly teardown: CustomResource;
  private readonly provider: cr.Provider;

  constructor(scope: Construct, id: string, props: RegistryReconcilerProps) {
    super(scope, id);
    const { role, logGroup } = functionRoleWithLogs(this,
      'Registry reconciler: lists the relay service\'s tasks and repairs the registry table', props.logRetention);
    props.table.grant(role, 'dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:Scan');
    allowEniReads(role);
    this.allowTaskReads(role, props.cluster);
    if (props.dns) allowTaskRecordChanges(role, props.dns);

    this.function = new ReconcilerFunction(this, 'Function', {
      role,
      logGroup,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.minutes(1),
      description: 'Repairs the relay registry from the tasks ECS lists',
      environment: {
        TABLE_NAME: props.table.tableName,
        RELAY_PORT: String(props.port),
        CLUSTER_ARN: props.cluster.clusterArn,
        SERVICE_NAME: props.serviceName,
        SERVICE_GROUP_PREFIX: props.serviceGroupPrefix,
        METRICS_SERVICE: props.metricsServiceName,
        ...(props.dns ? {
          DNS_ZONE_ID: props.dns.hostedZone.hostedZoneId,
          DNS_DOMAIN: props.dns.domain,
          DNS_TTL: String(props.dns.recordTtl.toSeconds()),
        } : {}),
      },
    });

    // The framework function gets a role of ours too (rather than one with AWSLambdaBasicExecutionRole): its
    // own log group, and invoking the reconciler, which the framework grants.
    const provider = functionRoleWithLogs(this,
      'Registry reconciler custom resources: invokes the reconciler for CloudFormation', props.logRetention, 'Provider');
    this.provider = new cr.Provider(this, 'Provider', {
      onEventHandler: this.function,
      logGroup: provider.logGroup,
      frameworkOnEventRole: provider.role,
    });
    this.acknowledgeProvider(provider.role);
    this.teardown = new CustomResource(this, 'Teardown', {
      serviceToken: this.provider.serviceToken,
      resourceType: 'Custom::TranswrapRegistryTeardown',
      properties: { Mode: 'Teardown' },
    });

    if (props.interval) {
      const schedule = new events.Rule(this, 'Schedule', {
        description: 'Reconciles the relay registry with the tasks ECS lists',
        schedule: events.Schedule.rate(props.interval),
        targets: [new targets.LambdaFunction(this.function, { retryAttempts: 0 })],
      });
      schedule.node.addDependency(this.teardown);
    }
  }

  /**
   * Runs a reconcile once `service` has been created, and again whenever its task definition changes
   * (every deploy that changes what the tasks run).
   */
  public runAfterDeploy(service: ecs.FargateService): CustomResource {
    return new CustomResource(this, 'AfterDeploy', {
      serviceToken: this.provider.serviceToken,
      resourceType: 'Custom::TranswrapRegistryReconcile',
      properties: { Mode: 'AfterDeploy', Service: service.serviceArn, TaskDefinition: service.taskDefinition.taskDefinitionArn },
    });
  }

  /** ListTasks and DescribeTasks in the relay's cluster only. */
  private allowTaskReads(role: iam.Role, cluster: ecs.ICluster): void {
    const stack = Stack.of(this);
    const tasksOfCluster = stack.formatArn({ service: 'ecs', resource: 'task', resourceName: `${cluster.clusterName}/*` });
    const inCluster = { ArnEquals: { 'ecs:cluster': cluster.clusterArn } };
    const policy = new iam.Policy(this, 'TaskReadPolicy', {
      statements: [
        // ListTasks has no resource of its own on Fargate (its resource type is a container instance): the
        // cluster condition is what confines it.
        new iam.PolicyStatement({ actions: ['ecs:ListTasks'], resources: ['*'], conditions: inCluster }),
        new iam.PolicyStatement({ actions: ['ecs:DescribeTasks'], resources: [tasksOfCluster], conditions: inCluster }),
      ],
    });
    role.attachInlinePolicy(policy);
    acknowledgeFinding(policy, 'AwsSolutions-IAM5[Resource::*]',
      'ecs:ListTasks names no task resource; the statement allows only that read-only action, and only in the relay\'s cluster (ecs:cluster).');
    acknowledgeFinding(policy, iam5ResourceFinding(stack, tasksOfCluster),
      'Task ids are only known at run time; the statement allows describing tasks of the relay\'s cluster only.');
  }

  /** The custom resource framework's own function: CDK's, with findings that are its design, not ours. */
  private acknowledgeProvider(role: iam.Role): void {
    acknowledgeFinding(role.node.findChild('DefaultPolicy'), iam5ResourceFinding(Stack.of(this), `${this.function.functionArn}:*`),
      'CDK\'s custom resource framework may invoke any version of the reconciler function, and only that function.');
    acknowledgeFinding(this.provider.node.findChild('framework-onEvent'), 'AwsSolutions-L1',
      'CDK\'s custom resource framework function: aws-cdk-lib chooses and updates its Node.js runtime, which no prop sets.');
  }
}
