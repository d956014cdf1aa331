import { Stack, Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * The finding id cdk-nag gives an IAM5 wildcard on `resource` (e.g.
 * `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:…:task/<Cluster1234>/*]`), so an
 * acknowledgement can name that one resource string rather than every IAM5 finding.
 */
export function iam5ResourceFinding(stack: Stack, resource: string): string {
  return `AwsSolutions-IAM5[Resource::${render(stack.resolve(resource))}]`;
}

function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as { 'Ref'?: string; 'Fn::GetAtt'?: [string, string]; 'Fn::Join'?: [string, unknown[]] };
  if (v.Ref !== undefined) return `<${v.Ref}>`;
  if (v['Fn::GetAtt'] !== undefined) return `<${v['Fn::GetAtt'].join('.')}>`;
  if (v['Fn::Join'] !== undefined) return v['Fn::Join'][1].map(render).join(v['Fn::Join'][0]);
  return JSON.stringify(value);
}

/**
 * Acknowledges one cdk-nag finding on one construct. `Validations.acknowledge` treats `::` as the
 * separator of its own prefix and rejects ids with a second one, which every finding naming
 * `<AWS::Partition>` has (cdk-nag issue #2351); those are recorded under the same documented
 * metadata key that `Validations.acknowledge` writes and cdk-nag reads.
 */
export function acknowledgeFinding(scope: IConstruct, id: string, reason: string): void {
  if (id.split('::').length > 2) {
    scope.node.addMetadata(Validations.ACKNOWLEDGED_RULES_METADATA_KEY, { [id]: reason });
  } else {
    Validations.of(scope).acknowledge({ id, reason });
  }
}
