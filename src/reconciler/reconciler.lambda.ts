// The registry reconciler (docs/registry.md#reconciler), run by a schedule and by two custom resources: one
// after each deploy of the service, one on delete once the service and the tracker are gone.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient } from '@aws-sdk/client-ecs';
import { Route53Client } from '@aws-sdk/client-route-53';
import type { CloudFormationCustomResourceEvent, ScheduledEvent } from 'aws-lambda';
import { reconcile, ReconcileMode, ReconcilerClients, ReconcileTarget } from './reconcile';
import { emitRepairs } from './repair-metric';
import { log } from '../tracker/log';
import { errorName, registryConfigFromEnv } from '../tracker/record-task';

const clients: ReconcilerClients = {
  dynamodb: new DynamoDBClient({}), ec2: new EC2Client({}), route53: new Route53Client({}), ecs: new ECSClient({}),
};

/** What each custom resource does, by its `Mode` property and CloudFormation's request type. */
const CUSTOM_RESOURCE_MODES: Record<string, { onCreateOrUpdate?: ReconcileMode; onDelete?: ReconcileMode }> = {
  AfterDeploy: { onCreateOrUpdate: 'deploy' },
  Teardown: { onDelete: 'teardown' },
};

function targetFromEnv(env: NodeJS.ProcessEnv): ReconcileTarget {
  const missing = ['CLUSTER_ARN', 'SERVICE_NAME', 'SERVICE_GROUP_PREFIX'].filter(name => !env[name]);
  if (missing.length > 0) throw new Error(`${missing.join(', ')} not set`);
  return { clusterArn: env.CLUSTER_ARN!, serviceName: env.SERVICE_NAME!, groupPrefix: env.SERVICE_GROUP_PREFIX! };
}

async function run(mode: ReconcileMode): Promise<number> {
  const repairs = await reconcile(clients, registryConfigFromEnv(process.env), targetFromEnv(process.env), mode);
  log('info', 'reconciled', { mode, repairs });
  emitRepairs(process.env.METRICS_SERVICE, repairs);
  return repairs;
}

export const handler = async (
  event: ScheduledEvent | CloudFormationCustomResourceEvent,
): Promise<{ PhysicalResourceId: string } | void> => {
  if (!('RequestType' in event)) {
    await run('scheduled');
    return;
  }
  const kind = String(event.ResourceProperties.Mode);
  const modes = CUSTOM_RESOURCE_MODES[kind];
  if (!modes) throw new Error(`unknown reconciler custom resource Mode: ${kind}`);
  // The same physical id on every update: CloudFormation then never deletes the resource, and so never
  // tears the registry down, short of the stack (or the construct) being deleted.
  const result = { PhysicalResourceId: `registry-${kind}` };
  const mode = event.RequestType === 'Delete' ? modes.onDelete : modes.onCreateOrUpdate;
  if (mode === undefined) return result;
  try {
    await run(mode);
  } catch (e) {
    // A teardown that failed must fail the delete (records would dangle); after a deploy the schedule heals.
    if (mode === 'teardown') throw e;
    log('error', 'reconcile after deploy failed; the scheduled reconcile will repair the registry', { error: errorName(e) });
  }
  return result;
};
