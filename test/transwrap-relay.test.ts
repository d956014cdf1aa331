import { readFileSync } from 'fs';
import * as path from 'path';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { RelayAuth, TranswrapRelay } from '../src';
import { assetHashSerializer, emptyStack, relayStack, synthErrors } from './support/stacks';

expect.addSnapshotSerializer(assetHashSerializer);

describe('default relay', () => {
  const { stack } = relayStack();
  const template = Template.fromStack(stack);

  test('matches the snapshot', () => {
    expect(template.toJSON()).toMatchSnapshot();
  });

  test('runs two Fargate tasks with public IPs in public subnets, with rollback on failure', () => {
    template.hasResourceProperties('AWS::ECS::Service', {
      LaunchType: 'FARGATE',
      DesiredCount: 2,
      NetworkConfiguration: { AwsvpcConfiguration: { AssignPublicIp: 'ENABLED' } },
      DeploymentConfiguration: { DeploymentCircuitBreaker: { Enable: true, Rollback: true } },
    });
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'REJECT' });
  });

  test('admits only the relay port (443) from anywhere, and sends out only to ingest and HTTPS ports', () => {
    const groups = template.findResources('AWS::EC2::SecurityGroup', {
      Properties: { GroupDescription: Match.stringLikeRegexp('Transwrap relay') },
    });
    const [group] = Object.values(groups);
    expect(group.Properties.SecurityGroupIngress).toEqual([
      expect.objectContaining({ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443, IpProtocol: 'tcp' }),
    ]);
    expect(group.Properties.SecurityGroupEgress).toEqual([
      expect.objectContaining({ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443, IpProtocol: 'tcp' }),
    ]);
  });

  test('sizes tasks at 1 vCPU / 2 GiB and lets the non-root relay bind port 443', () => {
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Cpu: '1024',
      Memory: '2048',
      RuntimePlatform: { CpuArchitecture: 'X86_64', OperatingSystemFamily: 'LINUX' },
      ContainerDefinitions: [Match.objectLike({
        PortMappings: [{ ContainerPort: 443, Protocol: 'tcp' }],
        SystemControls: [{ Namespace: 'net.ipv4.ip_unprivileged_port_start', Value: '443' }],
        StopTimeout: 120,
        HealthCheck: Match.objectLike({
          Command: ['CMD', 'bun', '-e', Match.stringLikeRegexp('/healthz')],
        }),
        Environment: Match.arrayWith([
          { Name: 'RELAY_PORT', Value: '443' },
          { Name: 'RELAY_TLS', Value: 'self-signed' },
          { Name: 'RELAY_ALLOWED_INGESTS', Value: 'rtmps://*.global-contribute.live-video.net' },
          { Name: 'RELAY_DRAIN_TIMEOUT_MS', Value: '100000' },
        ]),
        Secrets: [{ Name: 'RELAY_AUTH_SECRET', ValueFrom: Match.anyValue() }],
        LogConfiguration: Match.objectLike({ LogDriver: 'awslogs' }),
      })],
    });
  });

  test('runs the container on a read-only root, writing only to a task volume at TMPDIR (Security Hub ECS.5)', () => {
    const [taskDef] = Object.values(template.findResources('AWS::ECS::TaskDefinition'));
    const [container] = taskDef.Properties.ContainerDefinitions;
    expect(container.ReadonlyRootFilesystem).toBe(true);
    // A bind mount on the task's storage: a name, no host path; the image declares the same path a VOLUME.
    expect(taskDef.Properties.Volumes).toEqual([{ Name: 'scratch' }]);
    expect(container.MountPoints).toEqual([{ SourceVolume: 'scratch', ContainerPath: '/run/relay', ReadOnly: false }]);
    expect(container.Environment).toContainEqual({ Name: 'TMPDIR', Value: '/run/relay' });
  });

  test('keeps the registry table: on demand, encrypted, PITR, TTL on expiresAt, retained', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: {
        KeySchema: [{ AttributeName: 'taskArn', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'taskArn', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        SSESpecification: { SSEEnabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      },
    });
  });

  test('routes only this service\'s task state changes in this cluster to the tracker, with retries and a DLQ', () => {
    const cluster = template.findResources('AWS::ECS::Cluster');
    const [service] = Object.values(template.findResources('AWS::ECS::Service'));
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        'source': ['aws.ecs'],
        'detail-type': ['ECS Task State Change'],
        'detail': {
          clusterArn: [{ 'Fn::GetAtt': [Object.keys(cluster)[0], 'Arn'] }],
          // The service's name, not a reference to it: docs/registry.md#order (test/registry-order.test.ts).
          group: [`service:${service.Properties.ServiceName}`],
        },
      },
      Targets: [Match.objectLike({
        DeadLetterConfig: { Arn: Match.anyValue() },
        RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 7200 },
      })],
    });
  });

  test('runs the tracker on arm64 with the current Node.js runtime and the table name', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Environment: { Variables: Match.objectLike({ TABLE_NAME: Match.anyValue(), RELAY_PORT: '443' }) },
    });
  });

  test('lets the tracker only put items in this table and read ENIs in this region', () => {
    const table = Object.keys(template.findResources('AWS::DynamoDB::Table'))[0];
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyName: Match.stringLikeRegexp('TrackerRole'),
      PolicyDocument: {
        Statement: Match.arrayWith([
          { Effect: 'Allow', Action: 'dynamodb:PutItem', Resource: [{ 'Fn::GetAtt': [table, 'Arn'] }] },
          {
            Effect: 'Allow',
            Action: 'ec2:DescribeNetworkInterfaces',
            Resource: '*',
            Condition: { StringEquals: { 'aws:RequestedRegion': 'us-west-2' } },
          },
        ]),
      },
    });
    template.resourcePropertiesCountIs('AWS::IAM::Role', {
      ManagedPolicyArns: Match.anyValue(),
    }, 0);
  });

  test('gives the task role no policy at all', () => {
    const taskDef = template.findResources('AWS::ECS::TaskDefinition');
    const taskRoleId = Object.values(taskDef)[0].Properties.TaskRoleArn['Fn::GetAtt'][0];
    const policies = template.findResources('AWS::IAM::Policy');
    for (const policy of Object.values(policies)) {
      expect(policy.Properties.Roles).not.toContainEqual({ Ref: taskRoleId });
    }
  });

  test('outputs the table, service, cluster, log group and secret', () => {
    const outputs = Object.keys(template.findOutputs('*'));
    for (const name of ['RegistryTableName', 'ServiceName', 'ClusterName', 'LogGroupName', 'AuthSecretArn']) {
      expect(outputs.some(o => o.startsWith(`Relay${name}`))).toBe(true);
    }
  });
});

describe('customised relay', () => {
  const build = () => {
    const { app, stack } = emptyStack();
    const vpc = new ec2.Vpc(stack, 'OwnVpc', { natGateways: 0, maxAzs: 3 });
    const cluster = new ecs.Cluster(stack, 'OwnCluster', { vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
    return { app, stack, vpc, cluster };
  };

  test('uses given network, image, auth, ingests, sizes and policies, and matches the snapshot', () => {
    const { stack, vpc, cluster } = build();
    new TranswrapRelay(stack, 'Custom', {
      vpc,
      cluster,
      port: 8443,
      allowedCidrs: ['203.0.113.0/24', '198.51.100.0/24'],
      cpu: 2048,
      memoryLimitMiB: 4096,
      cpuArchitecture: ecs.CpuArchitecture.ARM64,
      image: ecs.ContainerImage.fromRegistry('public.ecr.aws/example/relay:1.0.0'),
      auth: RelayAuth.oidc({
        jwksUrl: 'https://cognito-idp.us-west-2.amazonaws.com/us-west-2_abc/.well-known/jwks.json',
        issuer: 'https://cognito-idp.us-west-2.amazonaws.com/us-west-2_abc',
        audience: 'client-id',
      }),
      allowedIngests: ['rtmps://*.global-contribute.live-video.net', 'rtmp://ingest.example.com:1936'],
      relayEnvironment: { RELAY_MAX_SESSIONS: '40' },
      scaling: { minTasks: 2, maxTasks: 12, targetSessionsPerTask: 30 },
      endpointsApi: { allowedOrigins: ['https://studio.example.com'] },
      dns: {
        hostedZone: route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0123456789ABCDEFGHIJ', zoneName: 'example.com' }),
        certificateSecret: secretsmanager.Secret.fromSecretNameV2(stack, 'Cert', 'relay-cert'),
        recordTtl: Duration.seconds(30),
      },
      tableRemovalPolicy: RemovalPolicy.DESTROY,
      logRetention: logs.RetentionDays.ONE_WEEK,
    });
    const template = Template.fromStack(stack);
    expect(template.toJSON()).toMatchSnapshot();

    template.resourceCountIs('AWS::ECS::Cluster', 1);
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    template.hasResourceProperties('AWS::ECS::Service', { DesiredCount: Match.absent() });
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Cpu: '2048',
      Memory: '4096',
      RuntimePlatform: { CpuArchitecture: 'ARM64' },
      ContainerDefinitions: [Match.objectLike({
        Image: 'public.ecr.aws/example/relay:1.0.0',
        PortMappings: [{ ContainerPort: 8443, Protocol: 'tcp' }],
        Environment: Match.arrayWith([
          { Name: 'RELAY_MAX_SESSIONS', Value: '40' },
          { Name: 'RELAY_ALLOWED_INGESTS', Value: 'rtmps://*.global-contribute.live-video.net,rtmp://ingest.example.com:1936' },
          { Name: 'RELAY_AUTH_JWKS_URL', Value: 'https://cognito-idp.us-west-2.amazonaws.com/us-west-2_abc/.well-known/jwks.json' },
          { Name: 'RELAY_AUTH_AUDIENCE', Value: 'client-id' },
        ]),
      })],
    });
    const group = Object.values(template.findResources('AWS::EC2::SecurityGroup', {
      Properties: { GroupDescription: Match.stringLikeRegexp('Transwrap relay') },
    }))[0];
    expect(group.Properties.SecurityGroupIngress).toEqual([
      expect.objectContaining({ CidrIp: '203.0.113.0/24', FromPort: 8443, ToPort: 8443 }),
      expect.objectContaining({ CidrIp: '198.51.100.0/24', FromPort: 8443, ToPort: 8443 }),
    ]);
    expect(group.Properties.SecurityGroupEgress.map((r: { FromPort: number }) => r.FromPort)).toEqual([443, 1936]);
  });

  test('scales on ActiveSessions per task and lets the relay protect busy tasks from scale-in', () => {
    const { stack, relay } = relayStack({ scaling: { maxTasks: 8 } });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      MinCapacity: 1, MaxCapacity: 8, ScalableDimension: 'ecs:service:DesiredCount',
    });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingScalingPolicyConfiguration: {
        TargetValue: 20,
        ScaleInCooldown: 300,
        ScaleOutCooldown: 60,
        CustomizedMetricSpecification: {
          Namespace: 'TranswrapRelay',
          MetricName: 'ActiveSessions',
          Dimensions: [{ Name: 'Service', Value: 'RelayStack/Relay' }],
          Statistic: 'Average',
        },
      },
    });
    expect(relay.metricsServiceName).toBe('RelayStack/Relay');
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [Match.objectLike({
        Environment: Match.arrayWith([
          { Name: 'RELAY_SERVICE_NAME', Value: 'RelayStack/Relay' },
          { Name: 'RELAY_SCALE_IN_PROTECTION', Value: 'on' },
        ]),
      })],
    });
    const taskRole = Object.values(template.findResources('AWS::ECS::TaskDefinition'))[0].Properties.TaskRoleArn['Fn::GetAtt'][0];
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: taskRole }],
      PolicyDocument: {
        Statement: [{
          Effect: 'Allow',
          Action: ['ecs:UpdateTaskProtection', 'ecs:GetTaskProtection'],
          Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ecs:us-west-2:111122223333:task/', { Ref: Match.stringLikeRegexp('RelayCluster') }, '/*']] },
        }],
      },
    });
  });

  test('serves live relays from a function URL with CORS limited to the given origins', () => {
    const { stack, relay } = relayStack({ endpointsApi: { allowedOrigins: ['https://studio.example.com', 'http://localhost:5173'] } });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'NONE',
      Cors: { AllowOrigins: ['https://studio.example.com', 'http://localhost:5173'], AllowMethods: ['GET'] },
    });
    expect(relay.endpointsApiUrl).toBeDefined();
    const table = Object.keys(template.findResources('AWS::DynamoDB::Table'))[0];
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyName: Match.stringLikeRegexp('EndpointsApiRole'),
      PolicyDocument: {
        Statement: Match.arrayWith([
          { Effect: 'Allow', Action: 'dynamodb:Scan', Resource: [{ 'Fn::GetAtt': [table, 'Arn'] }] },
          // The answer its instances share: one item, by its key alone.
          {
            Effect: 'Allow',
            Action: ['dynamodb:GetItem', 'dynamodb:PutItem'],
            Resource: { 'Fn::GetAtt': [table, 'Arn'] },
            Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['endpoints-api#answer'] } },
          },
        ]),
      },
    });
    expect(Object.keys(template.findOutputs('*')).some(o => o.startsWith('RelayEndpointsApiUrl'))).toBe(true);
  });

  test('with dns, tasks serve a provided certificate and the tracker may change only A records under the task domain', () => {
    const { stack } = emptyStack();
    const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0123456789ABCDEFGHIJ', zoneName: 'example.com' });
    const certificateSecret = secretsmanager.Secret.fromSecretCompleteArn(stack, 'Cert', 'arn:aws:secretsmanager:us-west-2:111122223333:secret:relay-cert-AbCdEf');
    new TranswrapRelay(stack, 'Relay', { dns: { hostedZone, certificateSecret, subdomain: 'live' } });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [Match.objectLike({
        Environment: Match.arrayWith([{ Name: 'RELAY_TLS', Value: 'provided' }]),
        Secrets: Match.arrayWith([
          { Name: 'RELAY_TLS_CERT', ValueFrom: 'arn:aws:secretsmanager:us-west-2:111122223333:secret:relay-cert-AbCdEf:certificate::' },
          { Name: 'RELAY_TLS_KEY', ValueFrom: 'arn:aws:secretsmanager:us-west-2:111122223333:secret:relay-cert-AbCdEf:privateKey::' },
        ]),
      })],
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ DNS_ZONE_ID: 'Z0123456789ABCDEFGHIJ', DNS_DOMAIN: 'live.example.com', DNS_TTL: '60' }) },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyName: Match.stringLikeRegexp('TrackerRole'),
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'dynamodb:GetItem' }),
          {
            Effect: 'Allow',
            Action: 'route53:ChangeResourceRecordSets',
            Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':route53:::hostedzone/Z0123456789ABCDEFGHIJ']] },
            Condition: {
              'ForAllValues:StringLike': { 'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['*.live.example.com'] },
              'ForAllValues:StringEquals': {
                'route53:ChangeResourceRecordSetsRecordTypes': ['A'],
                'route53:ChangeResourceRecordSetsActions': ['UPSERT', 'DELETE'],
              },
            },
          },
          Match.objectLike({ Action: 'route53:ListResourceRecordSets' }),
        ]),
      },
    });
  });

  test('with scaling, the service has no fixed task count, so a deploy never resets the fleet', () => {
    const template = Template.fromStack(relayStack({ scaling: { minTasks: 3, maxTasks: 10 } }).stack);
    template.hasResourceProperties('AWS::ECS::Service', { DesiredCount: Match.absent() });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 3, MaxCapacity: 10 });
  });

  test('exposes the scalable task count for the user\'s own policies', () => {
    const { stack, relay } = relayStack({ scaling: { maxTasks: 10 } });
    relay.scalableTaskCount!.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 60 });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::ApplicationAutoScaling::ScalableTarget', 1);
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' },
        TargetValue: 60,
      }),
    });
    expect(relayStack().relay.scalableTaskCount).toBeUndefined();
  });

  test('scale-in protection is a choice: off, the relay never protects its task and has no right to', () => {
    const template = Template.fromStack(relayStack({ scaling: { maxTasks: 10, scaleInProtection: false } }).stack);
    const [taskDef] = Object.values(template.findResources('AWS::ECS::TaskDefinition'));
    const names = taskDef.Properties.ContainerDefinitions[0].Environment.map((e: { Name: string }) => e.Name);
    expect(names).toContain('RELAY_SERVICE_NAME');
    expect(taskDef.Properties.ContainerDefinitions[0].Environment).toContainEqual({ Name: 'RELAY_SCALE_IN_PROTECTION', Value: 'off' });
    expect(JSON.stringify(template.findResources('AWS::IAM::Policy'))).not.toContain('ecs:UpdateTaskProtection');
    template.resourceCountIs('AWS::ApplicationAutoScaling::ScalingPolicy', 1);
  });

  test('readonlyRootFilesystem: false is for an image that writes elsewhere: a writable root, no volume, TMPDIR the user\'s', () => {
    const { stack } = relayStack({
      image: ecs.ContainerImage.fromRegistry('public.ecr.aws/example/relay:1.0.0'),
      readonlyRootFilesystem: false,
      relayEnvironment: { TMPDIR: '/var/tmp' },
    });
    expect(synthErrors(stack)).toEqual([]);
    const [taskDef] = Object.values(Template.fromStack(stack).findResources('AWS::ECS::TaskDefinition'));
    const [container] = taskDef.Properties.ContainerDefinitions;
    expect(container.ReadonlyRootFilesystem).toBe(false);
    expect(taskDef.Properties.Volumes ?? []).toEqual([]);
    expect(container.MountPoints ?? []).toEqual([]);
    expect(container.Environment).toContainEqual({ Name: 'TMPDIR', Value: '/var/tmp' });
  });

  test('the metrics dimension is unique per stack: equal construct paths in two stacks never share it', () => {
    const dimension = (stackName: string) => {
      const app = new App();
      const stack = new Stack(app, 'RelayStack', { stackName, env: { account: '111122223333', region: 'us-west-2' } });
      const relay = new TranswrapRelay(stack, 'Relay', { scaling: { maxTasks: 4 } });
      const template = Template.fromStack(stack);
      const [policy] = Object.values(template.findResources('AWS::ApplicationAutoScaling::ScalingPolicy'));
      const [taskDef] = Object.values(template.findResources('AWS::ECS::TaskDefinition'));
      const env = taskDef.Properties.ContainerDefinitions[0].Environment as { Name: string; Value: string }[];
      // The relay reports under the same name the scaling policy watches.
      expect(env.find(e => e.Name === 'RELAY_SERVICE_NAME')!.Value).toBe(relay.metricsServiceName);
      expect(policy.Properties.TargetTrackingScalingPolicyConfiguration.CustomizedMetricSpecification.Dimensions)
        .toEqual([{ Name: 'Service', Value: relay.metricsServiceName }]);
      return relay.metricsServiceName;
    };
    expect(dimension('relay-prod')).toBe('relay-prod/Relay');
    expect(dimension('relay-staging')).toBe('relay-staging/Relay');
  });

  test.each([
    [undefined, 'linux/amd64'],
    [ecs.CpuArchitecture.X86_64, 'linux/amd64'],
    [ecs.CpuArchitecture.ARM64, 'linux/arm64'],
  ])('builds the relay image for the task\'s CPU (%s), not the deploying machine\'s', (cpuArchitecture, platform) => {
    const { app, stack } = relayStack({ cpuArchitecture });
    const assembly = app.synth();
    const manifest = JSON.parse(readFileSync(path.join(assembly.directory, `${stack.artifactId}.assets.json`), 'utf8'));
    const images = Object.values(manifest.dockerImages) as { source: { directory: string; platform?: string } }[];
    expect(images).toHaveLength(1);
    expect(images[0].source.platform).toBe(platform);
  });

  test('without scaling or an endpoints API, none of their resources exist', () => {
    const template = Template.fromStack(relayStack().stack);
    template.resourceCountIs('AWS::ApplicationAutoScaling::ScalableTarget', 0);
    template.resourceCountIs('AWS::Lambda::Url', 0);
  });

  test('a given cluster brings its VPC: the tasks and their security group are placed in it', () => {
    const { stack } = emptyStack();
    const vpc = new ec2.Vpc(stack, 'OwnVpc', { natGateways: 0, maxAzs: 2 });
    const cluster = new ecs.Cluster(stack, 'OwnCluster', { vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
    const relay = new TranswrapRelay(stack, 'Relay', { cluster });
    expect(relay.vpc).toBe(vpc);
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::EC2::VPC', 1);
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('Transwrap relay'),
      VpcId: { Ref: Match.stringLikeRegexp('OwnVpc') },
    });
    const other = new ec2.Vpc(stack, 'OtherVpc', { natGateways: 0, maxAzs: 2 });
    new TranswrapRelay(stack, 'Mismatch', { cluster, vpc: other });
    expect(synthErrors(stack)).toEqual([expect.stringMatching(/^vpc: the given cluster is in another VPC/)]);
  });

  test('retries a failing tracker and keeps what still fails in the dead-letter queue', () => {
    const template = Template.fromStack(relayStack().stack);
    const queue = Object.keys(template.findResources('AWS::SQS::Queue'))[0];
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 7200,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queue, 'Arn'] } } },
    });
  });

  test('accepts an existing token secret and registry table', () => {
    const { stack } = build();
    const secret = secretsmanager.Secret.fromSecretNameV2(stack, 'Key', 'relay/key');
    const table = dynamodb.Table.fromTableName(stack, 'Reg', 'relays');
    const relay = new TranswrapRelay(stack, 'WithExisting', { auth: RelayAuth.fromSecret(secret), existingRegistryTable: table });
    expect(relay.authSecret).toBe(secret);
    expect(relay.table).toBe(table);
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::DynamoDB::Table', 0);
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ TABLE_NAME: 'relays' }) },
    });
  });
});

describe('props validation', () => {
  test.each([
    [{ desiredCount: -1 }, /desiredCount: must be a whole number of tasks \(0 or more\), got -1/],
    [{ desiredCount: 1.5 }, /desiredCount: must be a whole number/],
    [{ allowedCidrs: ['10.0.0.0/33'] }, /allowedCidrs: '10.0.0.0\/33' is not an IPv4 CIDR range/],
    [{ allowedCidrs: ['anywhere'] }, /allowedCidrs: 'anywhere' is not an IPv4 CIDR range/],
    [{ allowedCidrs: ['2001:db8::/32'] }, /allowedCidrs: '2001:db8::\/32' is an IPv6 range, but relay tasks have IPv4 addresses only/],
    [{ relayEnvironment: { RELAY_SCALE_IN_PROTECTION: 'on' } }, /relayEnvironment: RELAY_SCALE_IN_PROTECTION is managed by TranswrapRelay/],
    [{ spot: { spotPercent: 0 } }, /spot.spotPercent: must be a whole percentage from 1 to 100, got 0/],
    [{ spot: { onDemandBase: -1 } }, /spot.onDemandBase: must be a whole number of tasks/],
    [{ allowedIngests: [] }, /allowedIngests: the list is empty/],
    [{ allowedIngests: ['http://example.com'] }, /allowedIngests: 'http:\/\/example.com' is not a valid ingest pattern/],
    [{ allowedIngests: ['rtmps://exa*mple.com'] }, /is not a valid ingest pattern/],
    [{ allowedIngests: ['rtmp://example.com:70000'] }, /has port 70000, outside 1-65535/],
    [{ allowedIngests: ['rtmps://*'] }, /'rtmps:\/\/\*' is too broad/],
    [{ allowedIngests: ['rtmps://*.com'] }, /'rtmps:\/\/\*.com' is too broad/],
    [{ allowedIngests: ['rtmp://ingest.*.example'] }, /is too broad/],
    [{ allowedIngests: ['rtmp://*.0.1'] }, /is too broad/],
    [{ port: 0 }, /port: must be an integer from 1 to 65535, got 0/],
    [{ relayEnvironment: { RELAY_TLS: 'off' } }, /relayEnvironment: RELAY_TLS is managed by TranswrapRelay/],
    [{ relayEnvironment: { RELAY_AUTH: 'none' } }, /relayEnvironment: RELAY_AUTH is managed by TranswrapRelay/],
    [{ scaling: { minTasks: 5, maxTasks: 2 } }, /scaling: need whole numbers with 0 <= minTasks <= maxTasks/],
    [{ scaling: { maxTasks: 4, targetSessionsPerTask: 0 } }, /scaling.targetSessionsPerTask: must be greater than 0, got 0/],
    [{ scaling: { maxTasks: 4 }, desiredCount: 2 }, /desiredCount: leave it unset with scaling; scaling.minTasks and scaling.maxTasks set the task count/],
    [{ cpuArchitecture: ecs.CpuArchitecture.of('RISCV64') }, /cpuArchitecture: the relay image is built for X86_64 or ARM64, got RISCV64/],
    [{ relayEnvironment: { RELAY_TLS_CERT: 'x' } }, /relayEnvironment: RELAY_TLS_CERT is managed by TranswrapRelay/],
    [{ relayEnvironment: { TMPDIR: '/tmp' } }, /relayEnvironment: TMPDIR is managed by TranswrapRelay/],
    [{ endpointsApi: { allowedOrigins: [] } }, /endpointsApi.allowedOrigins: give at least one origin/],
    [{ endpointsApi: { allowedOrigins: ['https://studio.example.com/app'] } }, /is not an origin/],
  ])('rejects %j with a clear error', (props, message) => {
    expect(synthErrors(relayStack(props).stack)).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
  });

  test('lists every problem of a synth at once, each naming its prop', () => {
    const errors = synthErrors(relayStack({
      port: 0,
      allowedCidrs: ['2001:db8::/32', '203.0.113.0/24'],
      allowedIngests: ['http://example.com', 'rtmps://*.com'],
      relayEnvironment: { RELAY_TLS: 'off' },
      scaling: { minTasks: 5, maxTasks: 2 },
      endpointsApi: { allowedOrigins: [] },
    }).stack);
    expect(errors.every(e => /^[a-zA-Z.]+: \S/.test(e))).toBe(true);
    expect(errors.map(e => e.split(':')[0]).sort()).toEqual(
      ['allowedCidrs', 'allowedIngests', 'allowedIngests', 'endpointsApi.allowedOrigins', 'port', 'relayEnvironment', 'scaling'],
    );
  });

  test('an existing registry table keeps its own removal policy: tableRemovalPolicy is refused with it', () => {
    const { stack } = emptyStack();
    new TranswrapRelay(stack, 'Relay', {
      existingRegistryTable: dynamodb.Table.fromTableName(stack, 'Reg', 'relays'),
      tableRemovalPolicy: RemovalPolicy.DESTROY,
    });
    expect(synthErrors(stack)).toEqual([expect.stringMatching(/^tableRemovalPolicy: applies only to the table this construct creates/)]);
  });

  test('a bad DNS subdomain is reported, not thrown', () => {
    const { stack } = emptyStack();
    new TranswrapRelay(stack, 'Relay', {
      dns: {
        hostedZone: route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0123456789ABCDEFGHIJ', zoneName: 'example.com' }),
        certificateSecret: secretsmanager.Secret.fromSecretNameV2(stack, 'Cert', 'relay-cert'),
        subdomain: 'Not_A_Name',
      },
    });
    expect(synthErrors(stack)).toEqual([expect.stringMatching(/^dns.subdomain: 'Not_A_Name' is not a DNS name/)]);
  });

  test('a valid relay reports no errors', () => {
    expect(synthErrors(relayStack().stack)).toEqual([]);
  });
});
