// What the construct deploys for the registry reconciler (docs/registry.md#reconciler), and the endpoints API's
// region check; the reconciler's behaviour is tested against dynalite in test/reconciler/.
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { TranswrapRelay, TranswrapRelayProps } from '../src';
import { relayStack, synthErrors } from './support/stacks';

const schedules = (props: TranswrapRelayProps) => Object.values(Template.fromStack(relayStack(props).stack)
  .findResources('AWS::Events::Rule', { Properties: { ScheduleExpression: Match.anyValue() } }))
  .map(r => r.Properties.ScheduleExpression);

test('the reconciler runs every minute by default, as often as reconcileInterval says, or only on deploy and delete', () => {
  expect(schedules({})).toEqual(['rate(1 minute)']);
  expect(schedules({ reconcileInterval: Duration.minutes(5) })).toEqual(['rate(5 minutes)']);
  expect(schedules({ reconcileInterval: Duration.minutes(0) })).toEqual([]);
  const template = Template.fromStack(relayStack({ reconcileInterval: Duration.minutes(0) }).stack);
  template.resourceCountIs('Custom::TranswrapRegistryReconcile', 1);
  template.resourceCountIs('Custom::TranswrapRegistryTeardown', 1);
});

test('a reconcileInterval that is not whole minutes is reported', () => {
  expect(synthErrors(relayStack({ reconcileInterval: Duration.seconds(90) }).stack)).toEqual([
    expect.stringMatching(/^reconcileInterval: must be whole minutes .*got 1 minute 30 seconds/),
  ]);
});

test('the reconciler may list and describe tasks of the relay\'s cluster only, and write only its table', () => {
  const template = Template.fromStack(relayStack().stack);
  const [cluster] = Object.keys(template.findResources('AWS::ECS::Cluster'));
  const inCluster = { ArnEquals: { 'ecs:cluster': { 'Fn::GetAtt': [cluster, 'Arn'] } } };
  template.hasResourceProperties('AWS::IAM::Policy', {
    PolicyName: Match.stringLikeRegexp('ReconcilerTaskReadPolicy'),
    PolicyDocument: {
      Statement: [
        { Effect: 'Allow', Action: 'ecs:ListTasks', Resource: '*', Condition: inCluster },
        {
          Effect: 'Allow',
          Action: 'ecs:DescribeTasks',
          Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ecs:us-west-2:111122223333:task/', { Ref: cluster }, '/*']] },
          Condition: inCluster,
        },
      ],
    },
  });
  const reconcilerActions = Object.values(template.findResources('AWS::IAM::Policy', {
    Properties: { PolicyName: Match.stringLikeRegexp('Reconciler') },
  })).flatMap(p => p.Properties.PolicyDocument.Statement.flatMap((s: { Action: string | string[] }) => [s.Action].flat()));
  expect(reconcilerActions.filter((a: string) => a.startsWith('ecs:') || a.startsWith('dynamodb:')).sort()).toEqual([
    'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Scan', 'ecs:DescribeTasks', 'ecs:ListTasks',
  ]);
});

test('the reconciler is told the service, the group prefix of every name it has had, and the metric dimension', () => {
  const template = Template.fromStack(relayStack().stack);
  const [service] = Object.values(template.findResources('AWS::ECS::Service'));
  template.hasResourceProperties('AWS::Lambda::Function', {
    Description: 'Repairs the relay registry from the tasks ECS lists',
    Runtime: 'nodejs24.x',
    Environment: {
      Variables: Match.objectLike({
        SERVICE_NAME: service.Properties.ServiceName,
        SERVICE_GROUP_PREFIX: 'service:RelayStack-Relay_',
        METRICS_SERVICE: 'RelayStack/Relay',
        RELAY_PORT: '443',
      }),
    },
  });
});

describe('the endpoints API needs Lambda function URLs', () => {
  const inRegion = (region?: string) => {
    const stack = new Stack(new App(), 'S', region ? { env: { account: '111122223333', region } } : {});
    new TranswrapRelay(stack, 'Relay', { endpointsApi: { allowedOrigins: ['https://studio.example.com'] } });
    return synthErrors(stack);
  };

  test.each(['ap-south-2', 'il-central-1', 'us-gov-west-1'])('in %s, which has none, synth fails naming the region and what to do', region => {
    expect(inRegion(region)).toEqual([expect.stringMatching(
      new RegExp(`^endpointsApi: Lambda function URLs do not exist in ${region}.*leave endpointsApi unset and list relays with the CLI`))]);
  });

  test('in a region that has them, or a region only known at deploy time, it synthesizes', () => {
    expect(inRegion('us-west-2')).toEqual([]);
    expect(inRegion()).toEqual([]);
  });
});
