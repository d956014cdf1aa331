import { createHash } from 'crypto';
import * as path from 'path';
import { Names, Stack, Token } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { Construct } from 'constructs';

/** The relay service's name, and what every name it has had starts with. */
export interface RelayServiceName {
  /** `<stack name>-<construct path in the stack>_<hash>`. */
  readonly name: string;
  /** The ECS task group of every name this relay's service has had: `service:<stack name>-<construct path>_`. */
  readonly groupPrefix: string;
}

/**
 * A name for the relay service known before the service exists, so the tracker's rule can match its tasks
 * without referring to it (docs/registry.md#order). Stack names are unique in an account and region and
 * construct paths unique in a stack, so no two relays share it. The hash covers what makes CloudFormation
 * replace the service (its cluster, Spot on or off): a replacement needs a new name, since CloudFormation
 * cannot replace a resource that keeps its custom name.
 */
export function relayServiceName(relay: Construct, cluster: ecs.ICluster, spot: boolean): RelayServiceName {
  const stack = Stack.of(relay);
  // A nested stack's name is only known at deploy time; its path-derived id is unique in the app instead.
  const stackName = Token.isUnresolved(stack.stackName) ? Names.uniqueId(stack) : stack.stackName;
  const relativePath = path.posix.relative(stack.node.path, relay.node.path);
  // Service names allow letters, digits, hyphens and underscores (255 at most); the underscore is kept for the hash.
  const base = `${stackName}-${relativePath}`.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 240);
  const hash = createHash('sha256').update(JSON.stringify([relativePath, stack.resolve(cluster.clusterArn), spot])).digest('hex').slice(0, 8);
  return { name: `${base}_${hash}`, groupPrefix: `service:${base}_` };
}
