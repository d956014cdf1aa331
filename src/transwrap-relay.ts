import * as path from 'path';
import { CfnOutput, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { EndpointsApi, EndpointsApiOptions } from './endpoints-api';
import { DEFAULT_ALLOWED_INGESTS, ingestPorts } from './ingest-allow-list';
import { PARTITION_KEY, TTL_ATTRIBUTE } from './registry/registry-item';
import { RelayAuth } from './relay-auth';
import { RelayDnsOptions, relayDomain } from './relay-dns';
import { HEALTH_PATH } from './relay-paths';
import { applyScaling, RelayScalingOptions } from './relay-scaling';
import { TaskTracker } from './task-tracker';

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
   * An existing ECS cluster; the tasks run in its VPC.
   * @default - a new cluster with Container Insights
   */
  readonly cluster?: ecs.ICluster;

  /**
   * The port browsers connect to (wss://). The container listens on this same port as a non-root user.
   * @default 443
   */
  readonly port?: number;

  /**
   * IPv4 or IPv6 CIDR ranges allowed to reach the relay port. Nothing else is admitted inbound.
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
   * @default - built from the `relay/` folder shipped in this package
   */
  readonly image?: ecs.ContainerImage;

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
   * They cannot override the settings this construct manages (port, TLS, auth, allowed ingests).
   * @default - none
   */
  readonly relayEnvironment?: { [name: string]: string };

  /**
   * An existing registry table (partition key `taskArn`, string; TTL on `expiresAt`).
   * @default - a new on-demand, encrypted table with point-in-time recovery
   */
  readonly existingRegistryTable?: dynamodb.ITable;

  /**
   * What happens to the registry table when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly tableRemovalPolicy?: RemovalPolicy;

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
   * Retention of the relay's and the tracker's log groups.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * A browser-to-RTMP(S) relay for live streaming: an ECS Fargate service whose tasks each have a
 * public IP and run the Bun relay, an EventBridge rule and Lambda that record each live task's
 * address, and the DynamoDB table that holds them.
 */
export class TranswrapRelay extends Construct {
  /** The VPC the tasks run in. */
  public readonly vpc: ec2.IVpc;
  /** The cluster the service runs in. */
  public readonly cluster: ecs.ICluster;
  /** The relay service. */
  public readonly service: ecs.FargateService;
  /** The relay task definition. */
  public readonly taskDefinition: ecs.FargateTaskDefinition;
  /** The security group of the relay tasks (inbound: only the relay port, from `allowedCidrs`). */
  public readonly securityGroup: ec2.SecurityGroup;
  /** The registry of relay tasks: one item per task, key `taskArn` (docs/registry.md#item). */
  public readonly table: dynamodb.ITable;
  /** Tracks task state changes into `table`. */
  public readonly tracker: TaskTracker;
  /** The relay's log group (JSON logs and EMF metrics). */
  public readonly logGroup: logs.LogGroup;
  /** The HS256 token secret, unless `auth` is OIDC. Your backend reads it to mint tokens. */
  public readonly authSecret?: secretsmanager.ISecret;
  /** The port browsers connect to. */
  public readonly port: number;
  /** The endpoints API, when `endpointsApi` is set. */
  public readonly endpointsApi?: EndpointsApi;
  /**
   * The value of the `Service` dimension of the relay's metrics (namespace `TranswrapRelay`):
   * the stack name and the construct's path inside the stack, unique in an account and region.
   */
  public readonly metricsServiceName: string;
  /** The service's scalable task count, when `scaling` is set: add your own policies to it (CPU for transcodes, schedules). */
  public readonly scalableTaskCount?: ecs.ScalableTaskCount;

  constructor(scope: Construct, id: string, props: TranswrapRelayProps = {}) {
    super(scope, id);

    this.port = props.port ?? 443;
    this.metricsServiceName = metricsServiceName(this);
    if (props.scaling && props.desiredCount !== undefined) {
      throw new Error('desiredCount: leave it unset with scaling; scaling.minTasks and scaling.maxTasks set the task count');
    }
    const desiredCount = props.scaling ? undefined : props.desiredCount ?? 2;
    const allowedCidrs = props.allowedCidrs ?? ['0.0.0.0/0'];
    const allowedIngests = props.allowedIngests ?? DEFAULT_ALLOWED_INGESTS;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    validatePort(this.port);
    if (desiredCount !== undefined) validateDesiredCount(desiredCount);
    const peers = allowedCidrs.map(toPeer);
    const egressPorts = ingestPorts(allowedIngests);

    if (props.vpc && props.cluster && props.vpc !== props.cluster.vpc) {
      throw new Error('vpc: the given cluster is in another VPC; give the cluster alone, or its own VPC');
    }
    this.vpc = props.vpc ?? props.cluster?.vpc ?? this.createVpc();
    this.cluster = props.cluster ?? new ecs.Cluster(this, 'Cluster', {
      vpc: this.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
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
    if (auth.secret) {
      this.authSecret = auth.secret;
    } else if (!auth.oidcOptions) {
      this.authSecret = new secretsmanager.Secret(this, 'AuthSecret', {
        description: 'HS256 key for relay tokens',
        generateSecretString: { passwordLength: 64, excludePunctuation: true },
      });
      Validations.of(this.authSecret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason: 'Relays read the token key at task start and tokens are short-lived; a scheduled rotation would break tokens minted for running tasks. Rotate by putting a new value and redeploying the service (see README).',
      });
    }

    const cpuArchitecture = props.cpuArchitecture ?? ecs.CpuArchitecture.X86_64;
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      cpu: props.cpu ?? 1024,
      memoryLimitMiB: props.memoryLimitMiB ?? 2048,
      runtimePlatform: {
        cpuArchitecture: cpuArchitecture,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    });
    this.addRelayContainer(props, auth, allowedIngests, cpuArchitecture);

    this.service = new ecs.FargateService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      desiredCount,
      assignPublicIp: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroups: [this.securityGroup],
      circuitBreaker: { enable: true, rollback: true },
      // Relay tasks are interchangeable and clients find them through the registry.
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
    });

    if (props.scaling) {
      this.scalableTaskCount = applyScaling(this.service, this.taskDefinition.taskRole, this.metricsServiceName, props.scaling);
    }

    this.tracker = new TaskTracker(this, 'Tracker', {
      service: this.service,
      table: this.table,
      port: this.port,
      logRetention,
      dns: props.dns && { hostedZone: props.dns.hostedZone, domain: relayDomain(props.dns), recordTtl: props.dns.recordTtl ?? Duration.seconds(60) },
    });

    if (props.endpointsApi) {
      this.endpointsApi = new EndpointsApi(this, 'EndpointsApi', { ...props.endpointsApi, table: this.table, logRetention });
      new CfnOutput(this, 'EndpointsApiUrl', { value: this.endpointsApi.url, description: 'Live relays as JSON, least-loaded first' });
    }

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
  }

  private createVpc(): ec2.Vpc {
    // Public subnets only: every task has its own public IP, so there is nothing to NAT.
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }],
    });
    vpc.addFlowLog('FlowLog', { trafficType: ec2.FlowLogTrafficType.REJECT });
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
    if (peers.some(p => p.uniqueId === ec2.Peer.anyIpv4().uniqueId || p.uniqueId === ec2.Peer.anyIpv6().uniqueId)) {
      Validations.of(sg).acknowledge({
        id: 'AwsSolutions-EC23',
        reason: 'The relay is a public endpoint for browsers anywhere; only its port is open, and every stream needs a signed token.',
      });
    }
    return sg;
  }

  private addRelayContainer(props: TranswrapRelayProps, auth: RelayAuth, allowedIngests: string[], cpuArchitecture: ecs.CpuArchitecture): void {
    const managed: { [name: string]: string } = {
      RELAY_HOST: '0.0.0.0',
      RELAY_PORT: String(this.port),
      RELAY_TLS: props.dns ? 'provided' : 'self-signed',
      RELAY_ALLOWED_INGESTS: allowedIngests.join(','),
      RELAY_SERVICE_NAME: this.metricsServiceName,
      // Drain, then up to 10 s for FFmpeg to flush, within ECS's 120 s stop timeout.
      RELAY_DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT.toMilliseconds()),
    };
    if (props.scaling && (props.scaling.scaleInProtection ?? true)) managed.RELAY_SCALE_IN_PROTECTION = 'on';
    const secrets: { [name: string]: ecs.Secret } = {};
    if (props.dns) {
      secrets.RELAY_TLS_CERT = ecs.Secret.fromSecretsManager(props.dns.certificateSecret, 'certificate');
      secrets.RELAY_TLS_KEY = ecs.Secret.fromSecretsManager(props.dns.certificateSecret, 'privateKey');
    }
    if (auth.oidcOptions) {
      managed.RELAY_AUTH_JWKS_URL = auth.oidcOptions.jwksUrl;
      managed.RELAY_AUTH_ISSUER = auth.oidcOptions.issuer;
      if (auth.oidcOptions.audience) managed.RELAY_AUTH_AUDIENCE = auth.oidcOptions.audience;
    } else {
      secrets.RELAY_AUTH_SECRET = ecs.Secret.fromSecretsManager(this.authSecret!);
    }
    for (const name of Object.keys(props.relayEnvironment ?? {})) {
      if (name in managed || name in secrets || name.startsWith('RELAY_AUTH') || name.startsWith('RELAY_TLS')) {
        throw new Error(`relayEnvironment: ${name} is managed by TranswrapRelay; use the matching prop instead`);
      }
    }

    this.taskDefinition.addContainer(CONTAINER_NAME, {
      image: props.image ?? ecs.ContainerImage.fromAsset(RELAY_SOURCE_DIR, { platform: imagePlatform(cpuArchitecture) }),
      environment: { ...props.relayEnvironment, ...managed },
      secrets,
      // Lets the non-root relay user bind the (privileged) relay port inside its own network namespace.
      systemControls: [{ namespace: 'net.ipv4.ip_unprivileged_port_start', value: String(this.port) }],
      portMappings: [{ containerPort: this.port, protocol: ecs.Protocol.TCP }],
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: 'relay' }),
      healthCheck: {
        command: ['CMD', 'bun', '-e', healthCheckScript(this.port)],
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(20),
      },
      // The relay drains live streams on SIGTERM (RELAY_DRAIN_TIMEOUT_MS) before ECS kills it; 120 s is Fargate's maximum.
      stopTimeout: Duration.seconds(120),
    });
    const executionPolicy = this.taskDefinition.executionRole?.node.tryFindChild('DefaultPolicy') as iam.Policy | undefined;
    if (executionPolicy && JSON.stringify(Stack.of(this).resolve(executionPolicy.document)).includes('ecr:GetAuthorizationToken')) {
      Validations.of(executionPolicy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'ecr:GetAuthorizationToken, needed to pull the relay image, has no resource-level permissions; image pulls themselves are limited to the image repository.',
      });
    }
    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason: 'The plain environment variables are non-secret relay settings (port, TLS mode, allowed ingests); the token secret is injected as an ECS secret.',
    });
  }
}

/**
 * The image platform for the task's CPU: without it the image is built for the deploying
 * machine's CPU, and an Apple-silicon laptop ships an ARM64 image to x86-64 tasks ("exec format error").
 */
function imagePlatform(cpuArchitecture: ecs.CpuArchitecture): Platform {
  switch (cpuArchitecture._cpuArchitecture) {
    case ecs.CpuArchitecture.ARM64._cpuArchitecture: return Platform.LINUX_ARM64;
    case ecs.CpuArchitecture.X86_64._cpuArchitecture: return Platform.LINUX_AMD64;
    default: throw new Error(`cpuArchitecture: the relay image is built for X86_64 or ARM64, got ${cpuArchitecture._cpuArchitecture}; give an image built for it`);
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

/** The container health check: `GET /healthz` on the relay itself, over TLS unless it is off. */
function healthCheckScript(port: number): string {
  return [
    "const s=process.env.RELAY_TLS==='off'?'http':'https';",
    `fetch(s+'://127.0.0.1:${port}${HEALTH_PATH}',{tls:{rejectUnauthorized:false}})`,
    '.then(r=>process.exit(r.ok?0:1),()=>process.exit(1))',
  ].join('');
}

function validatePort(port: number): void {
  if (!Token.isUnresolved(port) && (!Number.isInteger(port) || port < 1 || port > 65535)) {
    throw new Error(`port must be an integer from 1 to 65535, got ${port}`);
  }
}

function validateDesiredCount(count: number): void {
  if (!Token.isUnresolved(count) && (!Number.isInteger(count) || count < 0)) {
    throw new Error(`desiredCount must be a whole number of tasks (0 or more), got ${count}`);
  }
}

const IPV4_CIDR = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/(3[0-2]|[12]?\d)$/;
const IPV6_CIDR = /^[0-9a-f:]+\/(12[0-8]|1[01]\d|[1-9]?\d)$/i;

function toPeer(cidr: string): ec2.IPeer {
  if (IPV4_CIDR.test(cidr)) return ec2.Peer.ipv4(cidr);
  if (IPV6_CIDR.test(cidr) && cidr.includes(':')) return ec2.Peer.ipv6(cidr);
  throw new Error(`allowedCidrs: '${cidr}' is not an IPv4 or IPv6 CIDR range (for example '203.0.113.0/24' or '2001:db8::/32')`);
}
