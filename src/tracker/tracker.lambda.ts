// The task tracker (docs/registry.md): ECS task state change (EventBridge) → one item per task in DynamoDB.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { Route53Client } from '@aws-sdk/client-route-53';
import type { EventBridgeEvent } from 'aws-lambda';
import { log } from './log';
import { recordTask, registryConfigFromEnv, RegistryClients } from './record-task';
import { parseTaskEvent } from './task-event';

/** The event the rule delivers; its `detail` is validated at run time, so it is typed `unknown` here. */
export type EcsTaskStateChangeEvent = EventBridgeEvent<'ECS Task State Change', unknown>;

// Built once per execution environment with the default configuration chain: region, credentials and the
// standard AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_EC2 overrides all come from the environment.
const clients: RegistryClients = { dynamodb: new DynamoDBClient({}), ec2: new EC2Client({}), route53: new Route53Client({}) };

export const handler = async (event: EcsTaskStateChangeEvent): Promise<void> => {
  const parsed = parseTaskEvent(event, new Date());
  if (parsed.kind === 'malformed') {
    // Dropped, not thrown: a retry cannot fix a malformed event.
    log('warn', `dropping malformed ECS task state change event: ${parsed.reason}`, { taskArn: parsed.taskArn });
    return;
  }
  if (parsed.kind === 'ignored') {
    const { taskArn, lastStatus, desiredStatus, version } = parsed;
    log('debug', 'task status not tracked; nothing written', { taskArn, lastStatus, desiredStatus, version });
    return;
  }
  await recordTask(clients, registryConfigFromEnv(process.env), parsed.task);
};
