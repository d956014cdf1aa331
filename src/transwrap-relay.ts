import * as path from 'path';
import { Annotations, CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { EndpointsApi } from './endpoints-api';
import { EndpointsApiOptions } from './endpoints-api-options';
import { DEFAULT_ALLOWED_INGESTS, ingestPorts } from './ingest-allow-list';
import { REGISTRY_REPAIRS_METRIC } from './metric-names';
import { acknowledgeFinding } from './nag-finding';
import { PARTITION_KEY, TTL_ATTRIBUTE } from './registry/registry-item';
import { RegistryReconciler } from './registry-reconciler';
import { RelayAuth } from './relay-auth';
import { defaultHealthCheck, relayEnvironment, SCRATCH_DIR } from './relay-container';
import { RelayDnsOptions, relayDomain } from './relay-dns';
import { RelayFailureMetricOptions } from './relay-metric-options';
import { createAlarms, createDashboard, relayMetric } from './relay-monitoring';
import { applyScaling, RelayScalingOptions } from './relay-scaling';
import { relayServiceName } from './relay-service-name';
import { cidrPeers, concerns, validateProps } from './relay-validation';
import { TaskRecordsOptions, TaskTracker } from './task-tracker';

/** Where the relay image is built from when no `image` is given: the `relay/` folder shipped in this package. */
const RELAY_SOURCE_DIR = path.join(__dirname, '..', 'relay');
const CONTAINER_NAME = 'relay';
/** How long a stopping task lets live streams run on; with FFmpeg's flush it fits in the 120 s stop timeout. */
const DRAIN_TIMEOUT = Duration.seconds(100);

/** Properties of a {@link TranswrapRelay}. */
export interface TranswrapRelayProps {
  /**
   * The VPC to run relay tasks in. Tasks run in its public subnets, each with its own public IP.
   * @default - a new VPC with public subnets in two Availability Zones, no NAT gateways, and flow logs
   */
  readonly vpc?: ec2.IVpc;

  /**
   * An existing ECS cluster; the tasks run in its VPC. With `spot`, it must have the Fargate
   * capacity providers enabled (`cluster.enableFargateCapacityProviders()`).
   * @default - a new cluster
   */
  readonly cluster?: ecs.ICluster;

  /**
   * Where the tasks run. They need a public IP each, so these must be public subnets.
   * @default - the VPC's public subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * More security groups for the tasks, besides the relay's own (which admits only the relay
   * port from `allowedCidrs` and sends only to ingest and HTTPS ports).
   * @default - only the relay's own group
   */
  readonly securityGroups?: ec2.ISecurityGroup[];

  /**
   * The port browsers connect to (wss://). The container listens on this same port as a non-root user.
   * @default 443
   */
  readonly port?: number;

  /**
   * IPv4 CIDR ranges allowed to reach the relay port. Nothing else is admitted inbound. (IPv6 ranges
   * are refused: relay tasks have IPv4 addresses only.)
   * @default ['0.0.0.0/0'] - any browser on the internet (a token is still required)
   */
  readonly allowedCidrs?: string[];

  /**
   * Number of relay tasks. Leave it unset with `scaling`: autoscaling owns the task count, and
   * a fixed count would reset the fleet on every deploy.
   * @default 2 - or, with `scaling`, none: the service starts with `scaling.minTasks` tasks
   */
  readonly desiredCount?: number;

  /**
   * vCPU units per task (1024 = 1 vCPU). Transcoding VP8/VP9 to H.264 in real time needs a full vCPU per stream.
   * @default 1024
   */
  readonly cpu?: number;

  /**
   * Memory per task, in MiB.
   * @default 2048
   */
  readonly memoryLimitMiB?: number;

  /**
   * CPU architecture of the tasks. The default image is built for it whatever the deploying
   * machine's CPU (cross-building needs an emulating builder, see the README); a custom `image`
   * must be built for it.
   * @default ecs.CpuArchitecture.X86_64
   */
  readonly cpuArchitecture?: ecs.CpuArchitecture;

  /**
   * The relay container image.
   * @default - built from the `relay/` folder shipped in this package, for `cpuArchitecture`
   */
  readonly image?: ecs.ContainerImage;

  /**
   * Run the relay container with a read-only root filesystem (Security Hub ECS.5). The task then
   * mounts a volume at `/run/relay`, the only writable place, and the container's `TMPDIR` points
   * at it. The default image writes nothing else. A custom `image` must write only under `TMPDIR`,
   * and have `/run/relay` owned by its user and declared a `VOLUME` (ECS copies the directory's
   * owner into the volume); an image built `FROM` the relay's inherits both. Set `false` for an
   * image that writes elsewhere: the root is then writable, and there is no volume and no `TMPDIR`.
   * @default true
   */
  readonly readonlyRootFilesystem?: boolean;

  /**
   * The container health check. The default runs `bun` inside the container: an `image` without
   * Bun must bring its own (for example `curl -fsk https://127.0.0.1:<port>/healthz`).
   * @default - `GET /healthz` on the relay's port, every 15 s, with the image's `bun`
   */
  readonly healthCheck?: ecs.HealthCheck;

  /**
   * How relay tokens are verified.
   * @default RelayAuth.generatedSecret()
   */
  readonly auth?: RelayAuth;

  /**
   * Destinations the relay may publish to, as `scheme://host-pattern[:port]` where scheme is `rtmp` or `rtmps`
   * and `*` matches one or more DNS labels. A pattern without a port allows only the scheme's default port.
   * @default ['rtmps://*.global-contribute.live-video.net'] - Amazon IVS ingest over RTMPS
   */
  readonly allowedIngests?: string[];

  /**
   * Extra relay settings (the relay's environment variables, docs/configuration.md#variables, such as `RELAY_MAX_SESSIONS`).
   * They cannot override the settings this construct manages (docs/configuration.md#what-the-construct-sets):
   * host, port, TLS, authentication, allowed ingests, service name, drain timeout and scale-in protection,
   * and `TMPDIR` with `readonlyRootFilesystem`.
   * @default - none
   */
  readonly relayEnvironment?: { [name: string]: string };

  /**
   * An existing registry table (partition key `taskArn`, string; TTL on `expiresAt`).
   * @default - a new on-demand, encrypted table with point-in-time recovery
   */
  readonly existingRegistryTable?: dynamodb.ITable;

  /**
   * What happens to the registry table when it leaves the stack. Only for the table this
   * construct creates: with `existingRegistryTable` it is refused.
   * @default RemovalPolicy.RETAIN
   */
  readonly tableRemovalPolicy?: RemovalPolicy;

  /**
   * How often the registry reconciler compares the registry (and the task DNS records) with the tasks ECS
   * lists, and repairs what a lost or late task event left wrong (docs/registry.md#reconciler). It also
   * runs after every deploy that changes the tasks, and on delete. `Duration.minutes(0)` turns the schedule off.
   * @default Duration.minutes(1)
   */
  readonly reconcileInterval?: Duration;

  /**
   * Scale the service on live sessions per task.
   * @default - no autoscaling: the service keeps `desiredCount` tasks
   */
  readonly scaling?: RelayScalingOptions;

  /**
   * An HTTPS endpoints API (Lambda function URL) listing live relays, least-loaded first, for browser apps.
   * @default - none; use the CLI or read the registry table
   */
  readonly endpointsApi?: EndpointsApiOptions;

  /**
   * A DNS name and a trusted certificate per task (`wss://<task-id>.<subdomain>.<zone>`), instead of
   * a self-signed certificate per IP.
   * @default - no DNS records; each task generates a self-signed certificate at start
   */
  readonly dns?: RelayDnsOptions;

  /**
   * Retention of every log group the construct creates: the relay's, the tracker's, the endpoints
   * API's and the VPC flow logs'.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Run part of the fleet on Fargate Spot. Spot's two-minute warning reaches the relay as
   * SIGTERM, on which it drains like on any stop (up to 100 s), so live streams end cleanly.
   * @default - every task on regular Fargate
   */
  readonly spot?: RelaySpotOptions;

  /**
   * Container Insights on the cluster this construct creates (task counts, CPU and memory per
   * task; the `TasksBelowDesired` alarm reads it).
   * @default true
   */
  readonly containerInsights?: boolean;

  /**
   * Alarms on the relay and its tracker (see `alarms`): tracker errors, dead letters, tasks below
   * desired, sessions failing, relay bugs (uncaught exceptions), CPU and memory high. They have no
   * actions: add yours.
   * @default false
   */
  readonly enableAlarms?: boolean;

  /**
   * A CloudWatch dashboard of sessions, ingest health, task load and the alarms.
   * @default false
   */
  readonly enableDashboard?: boolean;

  /**
   * Stack outputs (registry table, endpoints command, service, cluster, log group, token secret).
   * @default true
   */
  readonly outputs?: boolean;
}

/** How much of the fleet runs on Fargate Spot. */
export interface RelaySpotOptions {
  /**
   * Tasks that always run on regular Fargate, before any share applies.
   * @default 1
   */
  readonly onDemandBase?: number;

  /**
   * Share of the tasks beyond the base that run on Fargate Spot, in percent (1 to 100).
   * @default 50
   */
  readonly spotPercent?: number;
}

/**
 * A browser-to-RTMP(S) relay for live streaming: an ECS Fargate service whose tasks each have a
 * public IP and run the Bun relay, an EventBridge rule and Lambda that record each live task's
 * address, and the DynamoDB table that holds them.
 *
 * Invalid props are reported together as synth errors (`Annotations`), each as `<prop>: <problem>`.
 * The construct's cdk-nag acknowledgements use cdk-nag v3's `Validations` (see the README).
 */
export class TranswrapRelay extends Construct implements ec2.IConnectable {
  /** The Amazon IVS ingest endpoints over RTMPS, the default of `allowedIngests`. */
  public static readonly DEFAULT_ALLOWED_INGESTS: string[] = DEFAULT_ALLOWED_INGESTS as string[];

  /** The VPC the tasks run in. */
  public readonly vpc: ec2.IVpc;
  /** The cluster the service runs in. */
  public readonly cluster: ecs.ICluster;
  /** The relay service. */
  public readonly service: ecs.FargateService;
  /** The relay task definition. */
  public readonly taskDefinition: ecs.FargateTaskDefinition;
  /** The relay container. */
  public readonly container: ecs.ContainerDefinition;
  /** The relay's own security group (inbound: only the relay port, from `allowedCidrs`). */
  public readonly securityGroup: ec2.SecurityGroup;
  /** The tasks' network connections, for `relay.connections.allowTo(...)` and friends. */
  public readonly connections: ec2.Connections;
  /** The registry of relay tasks: one item per task, key `taskArn` (docs/registry.md#item). */
  public readonly table: dynamodb.ITable;
  /** The Lambda function that records task state changes in `table`. */
  public readonly trackerFunction: lambda.IFunction;
  /** Task state changes the tracker could not record after all retries. */
  public readonly trackerDeadLetterQueue: sqs.IQueue;
  /** The relay's log group (JSON logs and EMF metrics). */
  public readonly logGroup: logs.ILogGroup;
  /** The HS256 token secret, unless `auth` is OIDC. Your backend reads it to mint tokens. */
  public readonly authSecret?: secretsmanager.ISecret;
  /** The port browsers connect to. */
  public readonly port: number;
  /** The endpoints API's HTTPS URL, when `endpointsApi` is set. */
  public readonly endpointsApiUrl?: string;
  /**
   * The value of the `Service` dimension of the relay's metrics (namespace `TranswrapRelay`):
   * the stack name and the construct's path inside the stack, unique in an account and region.
   */
  public readonly metricsServiceName: string;
  /** The service's scalable task count, when `scaling` is set: add your own policies to it (CPU for transcodes, schedules). */
  public readonly scalableTaskCount?: ecs.ScalableTaskCount;
  /** The alarms, when `enableAlarms` is set (else empty). */
  public readonly alarms: cloudwatch.IAlarm[];
  /** The dashboard, when `enableDashboard` is set. */
  public readonly dashboard?: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: TranswrapRelayProps = {}) {
    super(scope, id);

    // Every invalid prop is reported at once; synth goes on with a valid stand-in (or without the
    // optional part), so that every problem shows.
    const problems = validateProps(props, Stack.of(this).region);
    for (const problem of problems) Annotations.of(this).addError(problem);
    const invalid = (prop: string) => concerns(problems, prop);
    this.port = invalid('port') ? 443 : props.port ?? 443;
    this.metricsServiceName = metricsServiceName(this);
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const reconcileInterval = invalid('reconcileInterval') ? Duration.minutes(1) : props.reconcileInterval ?? Duration.minutes(1);
    const allowedIngests = props.allowedIngests ?? [...DEFAULT_ALLOWED_INGESTS];
    const { peers } = cidrPeers(props.allowedCidrs ?? ['0.0.0.0/0']);
    const { ports: egressPorts } = ingestPorts(allowedIngests);
    const desiredCount = props.scaling ? undefined : props.desiredCount ?? 2;

    this.vpc = props.vpc ?? props.cluster?.vpc ?? this.createVpc(logRetention);
    this.cluster = props.cluster ?? new ecs.Cluster(this, 'Cluster', {
      vpc: this.vpc,
      containerInsightsV2: props.containerInsights ?? true ? ecs.ContainerInsights.ENABLED : ecs.ContainerInsights.DISABLED,
      enableFargateCapacityProviders: props.spot !== undefined,
    });

    this.securityGroup = this.createSecurityGroup(peers, egressPorts);
    this.table = props.existingRegistryTable ?? new dynamodb.Table(this, 'Registry', {
      partitionKey: { name: PARTITION_KEY, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      removalPolicy: props.tableRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.logGroup = new logs.LogGroup(this, 'LogGroup', { retention: logRetention });

    const auth = props.auth ?? RelayAuth.generatedSecret();
    this.authSecret = auth.secret ?? (auth.oidcOptions ? undefined : this.createAuthSecret());

    const cpuArchitecture = props.cpuArchitecture ?? ecs.CpuArchitecture.X86_64;
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      cpu: props.cpu ?? 1024,
      memoryLimitMiB: props.memoryLimitMiB ?? 2048,
      runtimePlatform: { cpuArchitecture, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    this.container = this.addRelayContainer(props, auth, allowedIngests, cpuArchitecture);

    const spot = props.spot && { base: props.spot.onDemandBase ?? 1, percent: props.spot.spotPercent ?? 50 };
    const serviceName = relayServiceName(this, this.cluster, spot !== undefined);
    const dns: TaskRecordsOptions | undefined = props.dns && !invalid('dns') ? {
      hostedZone: props.dns.hostedZone, domain: relayDomain(props.dns), recordTtl: props.dns.recordTtl ?? Duration.seconds(60),
    } : undefined;

    // CloudFormation's order (docs/registry.md#order): the reconciler's teardown, then the tracker, then the
    // service, so the first tasks' events find the tracker ready; on delete the reverse, so the last tasks'
    // events are still recorded, and the teardown closes the registry once nothing else can write it.
    const reconciler = new RegistryReconciler(this, 'Reconciler', {
      cluster: this.cluster,
      serviceName: serviceName.name,
      serviceGroupPrefix: serviceName.groupPrefix,
      table: this.table,
      port: this.port,
      logRetention,
      metricsServiceName: this.metricsServiceName,
      interval: reconcileInterval.toSeconds() > 0 ? reconcileInterval : undefined,
      dns,
    });
    const tracker = new TaskTracker(this, 'Tracker', {
      cluster: this.cluster,
      serviceName: serviceName.name,
      table: this.table,
      port: this.port,
      logRetention,
      dns,
    });
    tracker.node.addDependency(reconciler.teardown);
    this.trackerFunction = tracker.function;
    this.trackerDeadLetterQueue = tracker.deadLetterQueue;

    this.service = new ecs.FargateService(this, 'Service', {
      serviceName: serviceName.name,
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      desiredCount,
      assignPublicIp: true,
      vpcSubnets: props.vpcSubnets ?? { subnetType: ec2.SubnetType.PUBLIC },
      securityGroups: [this.securityGroup, ...props.securityGroups ?? []],
      circuitBreaker: { enable: true, rollback: true },
      // Relay tasks are interchangeable and clients find them through the registry.
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      capacityProviderStrategies: spot && [
        { capacityProvider: 'FARGATE', base: spot.base, weight: 100 - spot.percent },
        { capacityProvider: 'FARGATE_SPOT', weight: spot.percent },
      ],
    });
    this.service.node.addDependency(tracker);
    reconciler.runAfterDeploy(this.service);
    this.connections = this.service.connections;

    if (props.scaling && !invalid('scaling')) {
      this.scalableTaskCount = applyScaling(this.service, this.taskDefinition.taskRole, this.metricsServiceName, props.scaling);
    }

    if (props.endpointsApi && !invalid('endpointsApi')) {
      this.endpointsApiUrl = new EndpointsApi(this, 'EndpointsApi', { ...props.endpointsApi, table: this.table, logRetention }).url;
    }

    this.alarms = props.enableAlarms ? createAlarms(this, {
      service: this.service,
      trackerFunction: this.trackerFunction,
      deadLetterQueue: this.trackerDeadLetterQueue,
      sessionsStarted: this.metricSessionsStarted({ period: Duration.minutes(5) }),
      sessionsFailed: this.metricSessionsFailed({ period: Duration.minutes(5) }),
      uncaughtExceptions: this.metric('UncaughtExceptions', { statistic: cloudwatch.Stats.SUM, period: Duration.minutes(5) }),
      registryRepairs: this.metricRegistryRepairs({ period: Duration.minutes(5) }),
    }) : [];
    if (props.enableDashboard) {
      this.dashboard = createDashboard(this, {
        service: this.service,
        activeSessions: this.metricActiveSessions(),
        sessionsStarted: this.metricSessionsStarted(),
        sessionsFailed: this.metricSessionsFailed(),
        ingestBitrate: this.metricIngestBitrate(),
        droppedFrames: this.metricDroppedFrames(),
        alarms: this.alarms,
      });
    }

    if (props.outputs ?? true) this.addOutputs();
  }

  /** One of the relay's metrics (docs/telemetry.md#metrics) by name, under this relay's `Service` dimension. */
  public metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return relayMetric(this.metricsServiceName, metricName, {}, props);
  }

  /** Live sessions per task (`ActiveSessions`, averaged over the tasks: the autoscaling signal). */
  public metricActiveSessions(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return relayMetric(this.metricsServiceName, 'ActiveSessions', { statistic: cloudwatch.Stats.AVERAGE }, props);
  }

  /** Sessions that reached `ready` (`SessionsStarted`, summed). */
  public metricSessionsStarted(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return relayMetric(this.metricsServiceName, 'SessionsStarted', { statistic: cloudwatch.Stats.SUM }, props);
  }

  /** Sessions that ended with an error, or with one error code (`SessionsFailed`, summed). */
  public metricSessionsFailed(props?: RelayFailureMetricOptions): cloudwatch.Metric {
    const { code, ...options } = props ?? {};
    return relayMetric(this.metricsServiceName, 'SessionsFailed', { statistic: cloudwatch.Stats.SUM }, options, code ? { Code: code } : {});
  }

  /** Milliseconds from a start message to `live` (`StartToLiveMs`, p95 by default: the wait most broadcasters see at most). */
  public metricStartToLive(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return relayMetric(this.metricsServiceName, 'StartToLiveMs', { statistic: 'p95' }, props);
  }

  /** Bitrate FFmpeg sends to the ingest, kb/s per session (`IngestBitrateKbps`, averaged). */
  public metricIngestBitrate(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return relayMetric(this.metricsServiceName, 'IngestBitrateKbps', { statistic: cloudwatch.Stats.AVERAGE }, props);
  }

  /** Frames FFmpeg dropped (`DroppedFrames`, summed). */
  public metricDroppedFrames(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return relayMetric(this.metricsServiceName, 'DroppedFrames', { statistic: cloudwatch.Stats.SUM }, props);
  }

  /**
   * Repairs the registry reconciler made (`RegistryRepairs`, summed): each is a task event that was lost, or
   * that the reconciler got to first (docs/registry.md#reconciler).
   */
  public metricRegistryRepairs(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return relayMetric(this.metricsServiceName, REGISTRY_REPAIRS_METRIC, { statistic: cloudwatch.Stats.SUM }, props);
  }

  /** Lets `grantee` read the registry (a backend handing out relays, the CLI's `endpoints`). */
  public grantReadRegistry(grantee: iam.IGrantable): iam.Grant {
    return this.table.grantReadData(grantee);
  }

  /**
   * Lets `grantee` read the HS256 token secret, to mint relay tokens (the CLI's `token --secret-id`).
   * @throws Error with OIDC `auth`: tokens then come from your identity provider
   */
  public grantMintTokens(grantee: iam.IGrantable): iam.Grant {
    if (!this.authSecret) {
      throw new Error('grantMintTokens: this relay verifies OIDC tokens (auth: RelayAuth.oidc); your identity provider issues them');
    }
    return this.authSecret.grantRead(grantee);
  }

  private createVpc(logRetention: logs.RetentionDays): ec2.Vpc {
    // Public subnets only: every task has its own public IP, so there is nothing to NAT.
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }],
    });
    vpc.addFlowLog('FlowLog', {
      trafficType: ec2.FlowLogTrafficType.REJECT,
      destination: ec2.FlowLogDestination.toCloudWatchLogs(new logs.LogGroup(this, 'FlowLogGroup', { retention: logRetention })),
    });
    return vpc;
  }

  private createSecurityGroup(peers: ec2.IPeer[], egressPorts: number[]): ec2.SecurityGroup {
    const sg = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: this.vpc,
      description: 'Transwrap relay tasks: the relay port in; ingest and AWS APIs out',
      allowAllOutbound: false,
    });
    for (const peer of peers) {
      sg.addIngressRule(peer, ec2.Port.tcp(this.port), 'Browsers (WebSocket over TLS)');
    }
    // Out: the ingest ports the allow-list permits, and HTTPS for ECR, Secrets Manager, logs and JWKS.
    for (const port of new Set([443, ...egressPorts])) {
      sg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(port), port === 443 ? 'HTTPS and RTMPS' : 'RTMP(S) ingest');
    }
    if (peers.some(p => p.uniqueId === ec2.Peer.anyIpv4().uniqueId)) {
      acknowledgeFinding(sg, 'AwsSolutions-EC23',
        'The relay is a public endpoint for browsers anywhere; only its port is open, and every stream needs a signed token.');
    }
    return sg;
  }

  private createAuthSecret(): secretsmanager.Secret {
    const secret = new secretsmanager.Secret(this, 'AuthSecret', {
      description: 'HS256 key for relay tokens',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    acknowledgeFinding(secret, 'AwsSolutions-SMG4',
      'Relays read the token key at task start and tokens are short-lived; a scheduled rotation would break tokens minted for running tasks. Rotate by putting a new value and redeploying the service (see README).');
    return secret;
  }

  private addRelayContainer(
    props: TranswrapRelayProps, auth: RelayAuth, allowedIngests: string[], cpuArchitecture: ecs.CpuArchitecture,
  ): ecs.ContainerDefinition {
    const readonlyRootFilesystem = props.readonlyRootFilesystem ?? true;
    const { environment, secrets } = relayEnvironment({
      port: this.port,
      allowedIngests,
      metricsServiceName: this.metricsServiceName,
      drainTimeout: DRAIN_TIMEOUT,
      scaleInProtection: props.scaling !== undefined && (props.scaling.scaleInProtection ?? true),
      auth,
      authSecret: this.authSecret,
      certificateSecret: props.dns?.certificateSecret,
      tmpDir: readonlyRootFilesystem ? SCRATCH_DIR : undefined,
      extra: props.relayEnvironment ?? {},
    });

    const container = this.taskDefinition.addContainer(CONTAINER_NAME, {
      image: props.image ?? ecs.ContainerImage.fromAsset(RELAY_SOURCE_DIR, { platform: this.imagePlatform(cpuArchitecture) }),
      environment,
      secrets,
      // Lets the non-root relay user bind the (privileged) relay port inside its own network namespace.
      systemControls: [{ namespace: 'net.ipv4.ip_unprivileged_port_start', value: String(this.port) }],
      portMappings: [{ containerPort: this.port, protocol: ecs.Protocol.TCP }],
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: 'relay' }),
      healthCheck: props.healthCheck ?? defaultHealthCheck(this.port),
      // The relay drains live streams on SIGTERM (RELAY_DRAIN_TIMEOUT_MS) before ECS kills it; 120 s is Fargate's maximum.
      stopTimeout: Duration.seconds(120),
      readonlyRootFilesystem,
    });
    if (readonlyRootFilesystem) {
      // A bind mount on the task's own storage (no host path, nothing to manage) that lives as long as the task.
      this.taskDefinition.addVolume({ name: 'scratch' });
      container.addMountPoints({ sourceVolume: 'scratch', containerPath: SCRATCH_DIR, readOnly: false });
    }
    const executionPolicy = this.taskDefinition.executionRole?.node.tryFindChild('DefaultPolicy') as iam.Policy | undefined;
    if (executionPolicy && JSON.stringify(Stack.of(this).resolve(executionPolicy.document)).includes('ecr:GetAuthorizationToken')) {
      acknowledgeFinding(executionPolicy, 'AwsSolutions-IAM5[Resource::*]',
        'ecr:GetAuthorizationToken, needed to pull the relay image, has no resource-level permissions; image pulls themselves are limited to the image repository.');
    }
    acknowledgeFinding(this.taskDefinition, 'AwsSolutions-ECS2',
      'The plain environment variables are non-secret relay settings (port, TLS mode, allowed ingests); the token secret is injected as an ECS secret.');
    return container;
  }

  /**
   * The image platform for the task's CPU: without it the image is built for the deploying
   * machine's CPU, and an Apple-silicon laptop ships an ARM64 image to x86-64 tasks ("exec format error").
   */
  private imagePlatform(cpuArchitecture: ecs.CpuArchitecture): Platform {
    switch (cpuArchitecture._cpuArchitecture) {
      case ecs.CpuArchitecture.ARM64._cpuArchitecture: return Platform.LINUX_ARM64;
      case ecs.CpuArchitecture.X86_64._cpuArchitecture: return Platform.LINUX_AMD64;
      default: return Platform.LINUX_AMD64; // reported by validateProps
    }
  }

  private addOutputs(): void {
    new CfnOutput(this, 'RegistryTableName', { value: this.table.tableName, description: 'Registry of live relay tasks' });
    new CfnOutput(this, 'EndpointsCommand', {
      value: `npx cdk-transwrap-relay endpoints --table ${this.table.tableName}`,
      description: 'Lists the live relays',
    });
    new CfnOutput(this, 'ServiceName', { value: this.service.serviceName });
    new CfnOutput(this, 'ClusterName', { value: this.cluster.clusterName });
    new CfnOutput(this, 'LogGroupName', { value: this.logGroup.logGroupName });
    if (this.authSecret) {
      new CfnOutput(this, 'AuthSecretArn', { value: this.authSecret.secretArn, description: 'HS256 key for minting relay tokens' });
    }
    if (this.endpointsApiUrl) {
      new CfnOutput(this, 'EndpointsApiUrl', { value: this.endpointsApiUrl, description: 'Live relays as JSON, least-loaded first' });
    }
  }
}

/**
 * The `Service` metric dimension. Stack names are unique in an account and region and construct
 * paths are unique in a stack, so two relays never share it (the construct path alone repeats
 * across apps, and relays would then scale on each other's sessions).
 */
function metricsServiceName(relay: Construct): string {
  const stack = Stack.of(relay);
  return `${stack.stackName}/${path.posix.relative(stack.node.path, relay.node.path)}`;
}
