import { Duration, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Construct } from 'constructs';
import { RelayAuth, TranswrapRelay } from '../src';
import { emptyStack, relayStack } from './support/stacks';

/** Runs the AwsSolutions pack over a scope and lists each unacknowledged finding as `rule @ path`. */
function findings(scope: Construct): string[] {
  const report = new AwsSolutionsChecks(scope).validateScope(scope);
  return report.violations.flatMap(v => v.violatingResources.map(r => `${v.ruleName} @ ${r.constructPath}`)).sort();
}

describe('cdk-nag AwsSolutions', () => {
  test('a stack with the default relay has no unacknowledged findings', () => {
    const { stack } = relayStack();
    expect(findings(stack)).toEqual([]);
  });

  test('a relay with every option enabled has no unacknowledged findings', () => {
    const { stack } = emptyStack();
    const hostedZone = new route53.HostedZone(stack, 'Zone', { zoneName: 'example.com' });
    const certificateSecret = new secretsmanager.Secret(stack, 'RelayCert');
    Validations.of(certificateSecret).acknowledge({ id: 'AwsSolutions-SMG4', reason: 'test fixture: an imported certificate is renewed by its issuer, not rotated here' });
    new TranswrapRelay(stack, 'Relay', {
      dns: { hostedZone, certificateSecret },
      port: 8443,
      allowedCidrs: ['198.51.100.0/24'],
      allowedIngests: ['rtmp://ingest.example.com'],
      auth: RelayAuth.oidc({ jwksUrl: 'https://issuer.example.com/jwks.json', issuer: 'https://issuer.example.com', audience: 'relay' }),
      cpuArchitecture: ecs.CpuArchitecture.ARM64,
      scaling: { maxTasks: 10 },
      endpointsApi: { allowedOrigins: ['https://studio.example.com'] },
      spot: { spotPercent: 80 },
      enableAlarms: true,
      enableDashboard: true,
    });
    expect(findings(stack)).toEqual([]);
  });

  test('turning Container Insights off is the user\'s choice, and cdk-nag still reports it', () => {
    const { stack } = relayStack({ containerInsights: false });
    expect(findings(stack)).toEqual(['AwsSolutions-ECS4 @ RelayStack/Relay/Cluster/Resource']);
  });

  test('acknowledgements are scoped: the same findings on a user\'s own resources are still reported', () => {
    const { stack, relay } = relayStack({ scaling: { maxTasks: 4 } });
    // One resource of the user's per finding the construct acknowledges for its own resources.
    const sg = new ec2.SecurityGroup(stack, 'UserGroup', { vpc: relay.vpc });
    sg.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(22));
    new secretsmanager.Secret(stack, 'UserSecret');
    const taskDef = new ecs.FargateTaskDefinition(stack, 'UserTask');
    taskDef.addContainer('app', {
      image: ecs.ContainerImage.fromRegistry('public.ecr.aws/example/app:1'),
      environment: { MODE: 'x' },
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'app' }),
    });
    const role = new iam.Role(stack, 'UserRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['ec2:DescribeNetworkInterfaces'], resources: ['*'] }));
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['ecs:UpdateTaskProtection'],
      resources: [stack.formatArn({ service: 'ecs', resource: 'task', resourceName: `${relay.cluster.clusterName}/*` })],
    }));
    new sqs.Queue(stack, 'UserQueue', { enforceSSL: true, retentionPeriod: Duration.days(1) });

    // A secret of the user's handed to the relay keeps its own findings too.
    new TranswrapRelay(stack, 'SecondRelay', { auth: RelayAuth.fromSecret(new secretsmanager.Secret(stack, 'UserTokenKey')) });

    const found = findings(stack);
    expect(found).toEqual(expect.arrayContaining([
      'AwsSolutions-EC23 @ RelayStack/UserGroup/Resource',
      'AwsSolutions-SMG4 @ RelayStack/UserSecret/Resource',
      'AwsSolutions-SMG4 @ RelayStack/UserTokenKey/Resource',
      'AwsSolutions-ECS2 @ RelayStack/UserTask/Resource',
      'AwsSolutions-IAM5[Resource::*] @ RelayStack/UserRole/DefaultPolicy/Resource',
      expect.stringMatching(/^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:ecs:.*:task\/<RelayCluster.*>\/\*\] @ RelayStack\/UserRole\/DefaultPolicy\/Resource$/),
      'AwsSolutions-SQS3 @ RelayStack/UserQueue/Resource',
    ]));
    // …and none of them leaks onto the relay's own resources.
    expect(found.filter(f => f.includes('/Relay/') || f.includes('/SecondRelay/'))).toEqual([]);
  });
});
