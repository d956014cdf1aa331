import { Duration, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { functionRoleWithLogs } from './function-role';
import { acknowledgeFinding } from './nag-finding';
import { TrackerFunction } from './tracker/tracker-function';

/** Properties of a {@link TaskTracker}. */
export interface TaskTrackerProps {
  /** The cluster of the relay service. */
  readonly cluster: ecs.ICluster;
  /**
   * The relay service's name, known before the service exists: the rule must not refer to the service, or
   * CloudFormation would create it only after the service's first tasks had started (docs/registry.md#order).
   */
  readonly serviceName: string;
  /** The registry table (docs/registry.md) the tracker writes. */
  readonly table: dynamodb.ITable;
  /** The port relays listen on, recorded in each item. */
  readonly port: number;
  /** Retention of the tracker's own log group. */
  readonly logRetention: logs.RetentionDays;
  /**
   * Also keep an A record `<task-id>.<domain>` per running task in this zone.
   * @default - no DNS records
   */
  readonly dns?: TaskRecordsOptions;
}

/** Where the tracker keeps per-task DNS records. */
export interface TaskRecordsOptions {
  /** The hosted zone. */
  readonly hostedZone: route53.IHostedZone;
  /** The domain under the zone that holds the records (e.g. `relay.example.com`). */
  readonly domain: string;
  /** TTL of the records. */
  readonly recordTtl: Duration;
}

/**
 * Keeps the registry table in step with the service's tasks: an EventBridge rule on ECS task
 * state changes of this cluster and this service only, delivering to a Lambda that records
 * each task's address. Events that cannot be delivered, or whose handling keeps failing, land in a
 * dead-letter queue instead of vanishing.
 */
export class TaskTracker extends Construct {
  /** The Lambda function that writes the registry. */
  public readonly function: lambda.Function;
  /** The EventBridge rule that feeds it. */
  public readonly rule: events.Rule;
  /** Events that could not be delivered, or handled, after all retries. */
  public readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: TaskTrackerProps) {
    super(scope, id);

    const { role, logGroup } = functionRoleWithLogs(this, 'Task tracker: writes the relay registry table', props.logRetention);
    // grant() rather than a hand-written statement, so a table encrypted with a customer key also grants the key.
    props.table.grant(role, 'dynamodb:PutItem');
    allowEniReads(role);

    this.function = new TrackerFunction(this, 'Function', {
      role,
      logGroup,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(30),
      description: 'Records the public address of each relay task in the registry table',
      environment: {
        TABLE_NAME: props.table.tableName,
        RELAY_PORT: String(props.port),
        ...(props.dns ? {
          DNS_ZONE_ID: props.dns.hostedZone.hostedZoneId,
          DNS_DOMAIN: props.dns.domain,
          DNS_TTL: String(props.dns.recordTtl.toSeconds()),
        } : {}),
      },
    });
    if (props.dns) {
      // Reading the table orders DNS changes by event version.
      props.table.grant(role, 'dynamodb:GetItem');
      allowTaskRecordChanges(role, props.dns);
    }

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      enforceSSL: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      retentionPeriod: Duration.days(14),
    });
    acknowledgeFinding(this.deadLetterQueue, 'AwsSolutions-SQS3',
      'This queue is itself the dead-letter queue of the tracker (rule target and function failures).');

    this.rule = new events.Rule(this, 'Rule', {
      description: 'ECS task state changes of the relay service',
      eventPattern: {
        source: ['aws.ecs'],
        detailType: ['ECS Task State Change'],
        detail: {
          clusterArn: [props.cluster.clusterArn],
          group: [`service:${props.serviceName}`],
        },
      },
    });
    // Two retry layers, one queue: EventBridge retries delivering the event, then Lambda retries a
    // handler that threw (an unexpected failure); what still fails is kept for inspection.
    this.rule.addTarget(new targets.LambdaFunction(this.function, {
      deadLetterQueue: this.deadLetterQueue,
      retryAttempts: 8,
      maxEventAge: Duration.hours(2),
    }));
    this.function.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: Duration.hours(2),
      onFailure: new destinations.SqsDestination(this.deadLetterQueue),
    });
  }
}

/** ec2:DescribeNetworkInterfaces, for the tasks' public IPs. */
export function allowEniReads(role: iam.Role): void {
  role.addToPolicy(new iam.PolicyStatement({
    actions: ['ec2:DescribeNetworkInterfaces'],
    // This action supports no resource-level permissions; confine it to this region instead.
    resources: ['*'],
    conditions: { StringEquals: { 'aws:RequestedRegion': Stack.of(role).region } },
  }));
  acknowledgeFinding(role, 'AwsSolutions-IAM5[Resource::*]',
    'ec2:DescribeNetworkInterfaces has no resource-level permissions; the statement allows only that read-only action, in this region.');
}

/** A records under the task domain only, with UPSERT and DELETE only; and listing the zone's records. */
export function allowTaskRecordChanges(role: iam.Role, dns: TaskRecordsOptions): void {
  role.addToPolicy(new iam.PolicyStatement({
    actions: ['route53:ChangeResourceRecordSets'],
    resources: [dns.hostedZone.hostedZoneArn],
    conditions: {
      'ForAllValues:StringLike': { 'route53:ChangeResourceRecordSetsNormalizedRecordNames': [`*.${dns.domain}`] },
      'ForAllValues:StringEquals': {
        'route53:ChangeResourceRecordSetsRecordTypes': ['A'],
        'route53:ChangeResourceRecordSetsActions': ['UPSERT', 'DELETE'],
      },
    },
  }));
  role.addToPolicy(new iam.PolicyStatement({
    actions: ['route53:ListResourceRecordSets'],
    resources: [dns.hostedZone.hostedZoneArn],
  }));
}
