// The deployable integration test cannot be deployed here (no AWS account): this checks what it
// would deploy and assert, so a change to either is a deliberate snapshot update.
import { Template } from 'aws-cdk-lib/assertions';
import { assertionStack, stack } from './integ.relay';
import { assetHashSerializer } from './support/stacks';

expect.addSnapshotSerializer(assetHashSerializer);

/** The assertion template, without the per-synth `salt` that makes every deploy re-run the assertions. */
function assertionTemplate(): Template {
  const json = Template.fromStack(assertionStack).toJSON();
  for (const resource of Object.values<{ Properties?: { salt?: string } }>(json.Resources)) {
    if (resource.Properties?.salt) resource.Properties.salt = '[SALT]';
  }
  return Template.fromJSON(json);
}

test('deploys the relay with its defaults: two tasks', () => {
  const template = Template.fromStack(stack);
  template.hasResourceProperties('AWS::ECS::Service', { DesiredCount: 2 });
  expect(template.toJSON()).toMatchSnapshot();
});

test('its health probe runs the runtime of the construct\'s own functions', () => {
  const template = Template.fromStack(stack);
  const runtimeOf = (description: string) => Object.values(template.findResources('AWS::Lambda::Function'))
    .find(f => f.Properties.Description === description)?.Properties.Runtime;
  const probe = Object.entries(template.findResources('AWS::Lambda::Function')).find(([id]) => id.startsWith('HealthProbe'))![1];
  expect(probe.Properties.Runtime).toBe(runtimeOf('Records the public address of each relay task in the registry table'));
  expect(probe.Properties.Runtime).toBe('nodejs24.x');
});

test('asserts that the registry holds two RUNNING items with a public IP', () => {
  assertionTemplate().hasResourceProperties('Custom::DeployAssert@SdkCallDynamoDBscan', {
    expected: JSON.stringify({ $ObjectLike: { Count: 2 } }),
    parameters: {
      FilterExpression: '"#status = :running AND attribute_exists(publicIp)"',
      ExpressionAttributeValues: JSON.stringify({ ':running': { S: 'RUNNING' } }),
      Select: '"COUNT"',
    },
  });
});

test('then asserts that a relay at one of those addresses answers /healthz with 200', () => {
  const template = assertionTemplate();
  template.hasResourceProperties('Custom::DeployAssert@SdkCallLambdainvoke', {
    expected: JSON.stringify({ $ObjectLike: { Payload: { $SerializedJson: { statusCode: 200 } } } }),
  });
  expect(template.toJSON()).toMatchSnapshot();
});
