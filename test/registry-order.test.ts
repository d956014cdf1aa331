// The registry is right from the first deploy to the last destroy only if CloudFormation creates the tracker's
// wiring before the service starts a task and deletes it after the last task stopped (docs/registry.md#order).
// These tests read that order from the synthesized template's dependency graph, as CloudFormation does.
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { TranswrapRelay, TranswrapRelayProps } from '../src';
import { directDependencies, resourcesOf, TemplateJson, theResource, transitiveDependencies } from './support/template-graph';

/** A relay in a stack that also holds the hosted zone its task records go in, when `withZone`. */
function synth(props: (stack: Stack) => TranswrapRelayProps, stackName = 'RelayStack'): TemplateJson {
  const app = new App();
  const stack = new Stack(app, 'RelayStack', { stackName, env: { account: '111122223333', region: 'us-west-2' } });
  new TranswrapRelay(stack, 'Relay', props(stack));
  return Template.fromStack(stack).toJSON() as TemplateJson;
}

const everything = (stack: Stack): TranswrapRelayProps => ({
  dns: {
    hostedZone: new route53.PublicHostedZone(stack, 'Zone', { zoneName: 'example.com' }),
    certificateSecret: secretsmanager.Secret.fromSecretNameV2(stack, 'Cert', 'relay-cert'),
  },
  scaling: { minTasks: 2, maxTasks: 6 },
  spot: { spotPercent: 50 },
});

/** Everything the event path needs to record a task: rule (and its target), permission, function, role, policies, queue. */
function trackerWiring(t: TemplateJson): { rule: string; fn: string; all: string[] } {
  const rule = theResource(t, 'AWS::Events::Rule', p => p.EventPattern?.source?.[0] === 'aws.ecs');
  const fn = t.Resources[rule].Properties.Targets[0].Arn['Fn::GetAtt'][0] as string;
  const role = t.Resources[fn].Properties.Role['Fn::GetAtt'][0] as string;
  const queue = t.Resources[rule].Properties.Targets[0].DeadLetterConfig.Arn['Fn::GetAtt'][0] as string;
  const refersTo = (value: unknown, id: string) => JSON.stringify(value).includes(`"${id}"`);
  return {
    rule,
    fn,
    all: [
      rule, fn, role, queue,
      theResource(t, 'AWS::Lambda::Permission', p => p.Principal === 'events.amazonaws.com' && refersTo(p.SourceArn, rule)),
      ...resourcesOf(t, 'AWS::IAM::Policy', p => refersTo(p.Roles, role)),
      ...resourcesOf(t, 'AWS::Lambda::EventInvokeConfig', p => refersTo(p.FunctionName, fn)),
      ...resourcesOf(t, 'AWS::SQS::QueuePolicy', p => refersTo(p.Queues, queue)),
    ],
  };
}

describe.each([
  ['the defaults', () => ({})],
  ['dns + scaling + spot, with the hosted zone in the same stack', everything],
])('CloudFormation order with %s', (_name, props) => {
  const template = synth(props);
  const graph = directDependencies(template);
  const service = theResource(template, 'AWS::ECS::Service');
  const beforeService = transitiveDependencies(graph, service);
  const wiring = trackerWiring(template);

  test('the tracker\'s rule, target, permission, function, role, policies and queue exist before the service and outlive it', () => {
    expect(wiring.all.length).toBeGreaterThanOrEqual(7);
    expect(wiring.all.filter(id => !beforeService.has(id))).toEqual([]);
  });

  test('no part of the tracker refers to the service: its rule matches the service\'s name, known in advance', () => {
    for (const id of wiring.all) expect(transitiveDependencies(graph, id).has(service)).toBe(false);
    const serviceName = template.Resources[service].Properties.ServiceName;
    expect(typeof serviceName).toBe('string');
    expect(template.Resources[wiring.rule].Properties.EventPattern.detail.group).toEqual([`service:${serviceName}`]);
  });

  test('the reconciler runs once the service has been created or updated, and on a schedule', () => {
    const afterDeploy = theResource(template, 'Custom::TranswrapRegistryReconcile');
    expect(transitiveDependencies(graph, afterDeploy).has(service)).toBe(true);
    const schedule = theResource(template, 'AWS::Events::Rule', p => p.ScheduleExpression !== undefined);
    expect(template.Resources[schedule].Properties.ScheduleExpression).toBe('rate(1 minute)');
  });

  test('on delete, the registry is closed after the service and the tracker are gone, and before what it needs', () => {
    const teardown = theResource(template, 'Custom::TranswrapRegistryTeardown');
    const schedule = theResource(template, 'AWS::Events::Rule', p => p.ScheduleExpression !== undefined);
    // Deleted before the teardown runs: the service, every part of the tracker, the schedule.
    for (const id of [service, wiring.rule, wiring.fn, schedule]) {
      expect([id, transitiveDependencies(graph, id).has(teardown)]).toEqual([id, true]);
    }
    // Still there when it runs: the table, and the hosted zone when the stack holds one.
    const needs = transitiveDependencies(graph, teardown);
    for (const id of [...resourcesOf(template, 'AWS::DynamoDB::Table'), ...resourcesOf(template, 'AWS::Route53::HostedZone')]) {
      expect([id, needs.has(id)]).toEqual([id, true]);
    }
  });
});

test('the service\'s name is derived from the stack and the construct path: two stacks with the same path do not collide', () => {
  const name = (stackName: string) => Object.values(synth(() => ({}), stackName).Resources)
    .find(r => r.Type === 'AWS::ECS::Service')!.Properties.ServiceName as string;
  expect(name('Blue')).not.toEqual(name('Green'));
  expect(name('Blue')).toEqual(name('Blue'));
  expect(name('Blue')).toMatch(/^Blue-Relay_[0-9a-f]{8}$/);
});

test('turning Spot on gives the service a new name, since CloudFormation replaces it and cannot reuse a custom name', () => {
  const name = (props: TranswrapRelayProps) => Object.values(synth(() => props).Resources)
    .find(r => r.Type === 'AWS::ECS::Service')!.Properties.ServiceName as string;
  expect(name({ spot: {} })).not.toEqual(name({}));
});
