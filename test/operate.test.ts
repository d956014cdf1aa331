// The handles an operator of TranswrapRelay uses: metrics, alarms, dashboard, grants, escape
// hatches, Spot and the options that shape what is deployed.
import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { RelayAuth, TranswrapRelay } from '../src';
import { emptyStack, relayStack } from './support/stacks';

describe('metrics', () => {
  test('each helper names the relay\'s namespace, metric and Service dimension', () => {
    const { stack, relay } = relayStack();
    const resolved = (m: cloudwatch.Metric) =>
      Stack.of(relay).resolve({ ns: m.namespace, name: m.metricName, dims: m.dimensions, stat: m.statistic });
    expect(resolved(relay.metricActiveSessions())).toEqual({ ns: 'TranswrapRelay', name: 'ActiveSessions', dims: { Service: 'RelayStack/Relay' }, stat: 'Average' });
    expect(resolved(relay.metricSessionsStarted())).toMatchObject({ name: 'SessionsStarted', stat: 'Sum' });
    expect(resolved(relay.metricIngestBitrate())).toMatchObject({ name: 'IngestBitrateKbps', stat: 'Average' });
    expect(resolved(relay.metricDroppedFrames())).toMatchObject({ name: 'DroppedFrames', stat: 'Sum' });
    expect(resolved(relay.metricStartToLive())).toMatchObject({ name: 'StartToLiveMs', stat: 'p95' });
    expect(resolved(relay.metricSessionsFailed())).toMatchObject({ name: 'SessionsFailed', dims: { Service: 'RelayStack/Relay' } });
    expect(resolved(relay.metricSessionsFailed({ code: 'INGEST_FAILED', period: Duration.minutes(5) }))).toMatchObject({
      name: 'SessionsFailed', dims: { Service: 'RelayStack/Relay', Code: 'INGEST_FAILED' },
    });
    expect(relay.metricSessionsFailed({ period: Duration.minutes(5) }).period.toMinutes()).toBe(5);
    expect(stack).toBeDefined();
  });
});

describe('alarms and dashboard', () => {
  test('are off by default', () => {
    const { stack, relay } = relayStack();
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    expect(relay.alarms).toEqual([]);
  });

  test('enableAlarms adds eight alarms without actions; enableDashboard a dashboard that shows them', () => {
    const { stack, relay } = relayStack({ enableAlarms: true, enableDashboard: true });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 8);
    expect(relay.alarms).toHaveLength(8);
    // Repairs in 2 of 3 five-minute periods: events keep getting lost (one repair can be a race with an event in flight).
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'TranswrapRelay',
      MetricName: 'RegistryRepairs',
      Dimensions: [{ Name: 'Service', Value: 'RelayStack/Relay' }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'TranswrapRelay', MetricName: 'UncaughtExceptions', Dimensions: [{ Name: 'Service', Value: 'RelayStack/Relay' }], Threshold: 1,
    });
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms.every(a => a.Properties.AlarmActions === undefined)).toBe(true);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 1,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'IF(started >= 5, 100 * failed / started, 0)' })]), Threshold: 20,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'AWS/ECS', MetricName: 'CPUUtilization', Threshold: 80 });
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    expect(JSON.stringify(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard'))).toContain('ActiveSessions');
    expect(relay.dashboard).toBeDefined();
  });
});

describe('grants', () => {
  test('grantReadRegistry lets a backend read the table, and nothing more', () => {
    const { stack, relay } = relayStack();
    const backend = new iam.Role(stack, 'Backend', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    relay.grantReadRegistry(backend);
    const policy = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^Backend') }] },
    }))[0];
    const actions = policy.Properties.PolicyDocument.Statement.flatMap((s: { Action: string | string[] }) => s.Action);
    expect(actions).toEqual(expect.arrayContaining(['dynamodb:Scan', 'dynamodb:GetItem', 'dynamodb:Query']));
    expect(actions.filter((a: string) => /Put|Update|Delete|Write/.test(a))).toEqual([]);
  });

  test('grantMintTokens lets a backend read the token secret; with OIDC there is none to read', () => {
    const { stack, relay } = relayStack();
    const backend = new iam.Role(stack, 'Backend', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    relay.grantMintTokens(backend);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Backend') }],
      PolicyDocument: { Statement: [Match.objectLike({ Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'] })] },
    });
    const oidc = relayStack({ auth: RelayAuth.oidc({ jwksUrl: 'https://issuer.example.com/jwks.json', issuer: 'https://issuer.example.com', audience: 'relay' }) });
    expect(() => oidc.relay.grantMintTokens(new iam.Role(oidc.stack, 'B', { assumedBy: new iam.AccountRootPrincipal() })))
      .toThrow(/grantMintTokens: this relay verifies OIDC tokens/);
  });
});

describe('escape hatches', () => {
  test('connections, the container and the scalable target are reachable', () => {
    const { stack, relay } = relayStack({ scaling: { maxTasks: 4 } });
    const peer = new ec2.SecurityGroup(stack, 'Monitor', { vpc: relay.vpc });
    relay.connections.allowFrom(peer, ec2.Port.tcp(relay.port), 'monitoring');
    expect(relay.connections.securityGroups).toContain(relay.securityGroup);
    expect(relay.container.containerName).toBe('relay');
    expect(relay.scalableTaskCount).toBeDefined();
    Template.fromStack(stack).hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      FromPort: 443, SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Monitor'), 'GroupId'] },
    });
  });

  test('takes more security groups, other subnets, and a health check for an image without Bun', () => {
    const { stack } = emptyStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', {
      natGateways: 0, subnetConfiguration: [{ name: 'Edge', subnetType: ec2.SubnetType.PUBLIC }, { name: 'Other', subnetType: ec2.SubnetType.PUBLIC }],
    });
    const extra = new ec2.SecurityGroup(stack, 'Extra', { vpc });
    new TranswrapRelay(stack, 'Relay', {
      vpc,
      vpcSubnets: { subnetGroupName: 'Edge' },
      securityGroups: [extra],
      image: ecs.ContainerImage.fromRegistry('public.ecr.aws/example/relay:1.0.0'),
      healthCheck: { command: ['CMD-SHELL', 'curl -fsk https://127.0.0.1:443/healthz || exit 1'] },
    });
    const template = Template.fromStack(stack);
    const service = Object.values(template.findResources('AWS::ECS::Service'))[0];
    const network = service.Properties.NetworkConfiguration.AwsvpcConfiguration;
    expect(network.SecurityGroups).toHaveLength(2);
    const extraId = Object.keys(template.findResources('AWS::EC2::SecurityGroup')).find(k => k.startsWith('Extra'));
    expect(network.SecurityGroups).toContainEqual({ 'Fn::GetAtt': [extraId, 'GroupId'] });
    expect(JSON.stringify(network.Subnets)).toContain('EdgeSubnet');
    expect(JSON.stringify(network.Subnets)).not.toContain('OtherSubnet');
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [Match.objectLike({ HealthCheck: Match.objectLike({ Command: ['CMD-SHELL', 'curl -fsk https://127.0.0.1:443/healthz || exit 1'] }) })],
    });
  });
});

describe('the endpoints API', () => {
  test('reserves concurrency for its function only when asked', () => {
    const reserved = (reservedConcurrency?: number) => Object.values(Template.fromStack(relayStack({
      endpointsApi: { allowedOrigins: ['https://studio.example.com'], reservedConcurrency },
    }).stack).findResources('AWS::Lambda::Function')).map(f => f.Properties.ReservedConcurrentExecutions).filter(v => v !== undefined);
    expect(reserved()).toEqual([]);
    expect(reserved(5)).toEqual([5]);
  });
});

describe('capacity and cost', () => {
  test('spot runs a base on Fargate and the given share of the rest on Fargate Spot', () => {
    const { stack } = relayStack({ spot: { onDemandBase: 2, spotPercent: 75 } });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ECS::Service', {
      CapacityProviderStrategy: [
        { CapacityProvider: 'FARGATE', Base: 2, Weight: 25 },
        { CapacityProvider: 'FARGATE_SPOT', Weight: 75 },
      ],
      LaunchType: Match.absent(),
    });
    template.hasResourceProperties('AWS::ECS::ClusterCapacityProviderAssociations', {
      CapacityProviders: Match.arrayWith(['FARGATE', 'FARGATE_SPOT']),
    });
  });

  test('Container Insights is on by default and can be turned off', () => {
    const setting = (containerInsights?: boolean) => Template.fromStack(relayStack({ containerInsights }).stack)
      .findResources('AWS::ECS::Cluster');
    expect(JSON.stringify(setting())).toContain('"Value":"enabled"');
    expect(JSON.stringify(setting(false))).toContain('"Value":"disabled"');
  });
});

describe('what is deployed', () => {
  test('every log group the construct creates keeps logRetention, flow logs included', () => {
    const template = Template.fromStack(relayStack({ logRetention: logs.RetentionDays.ONE_WEEK, endpointsApi: { allowedOrigins: ['https://a.example.com'] } }).stack);
    const groups = Object.values(template.findResources('AWS::Logs::LogGroup'));
    // Relay, tracker, reconciler and its custom resource framework, endpoints API, flow logs.
    expect(groups.length).toBe(6);
    expect(groups.map(g => g.Properties.RetentionInDays)).toEqual([7, 7, 7, 7, 7, 7]);
    template.hasResourceProperties('AWS::EC2::FlowLog', { LogGroupName: { Ref: Match.stringLikeRegexp('FlowLogGroup') } });
  });

  test('stack outputs are on by default and can be turned off', () => {
    expect(Object.keys(Template.fromStack(relayStack().stack).toJSON().Outputs ?? {}).length).toBeGreaterThan(4);
    expect(Template.fromStack(relayStack({ outputs: false }).stack).toJSON().Outputs).toBeUndefined();
  });

  test('the default allow-list is visible to every language and cannot be changed for every relay', () => {
    expect(TranswrapRelay.DEFAULT_ALLOWED_INGESTS).toEqual(['rtmps://*.global-contribute.live-video.net']);
    expect(() => TranswrapRelay.DEFAULT_ALLOWED_INGESTS.push('rtmp://evil.example.com')).toThrow(TypeError);
    Template.fromStack(relayStack().stack).hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [Match.objectLike({
        Environment: Match.arrayWith([{ Name: 'RELAY_ALLOWED_INGESTS', Value: 'rtmps://*.global-contribute.live-video.net' }]),
      })],
    });
  });
});
