import { DynamoDBClient, paginateScan } from '@aws-sdk/client-dynamodb';

/** A relay task that can take streams (Contract 4: `status = RUNNING` with a `publicIp`). */
export interface LiveRelay {
  readonly taskArn: string;
  readonly publicIp: string;
  readonly port: number;
  readonly hostname?: string;
  readonly availabilityZone?: string;
  readonly startedAt?: string;
}

/** Reads every live relay from the registry table (a small table: one item per task). */
export async function listLiveRelays(client: DynamoDBClient, tableName: string): Promise<LiveRelay[]> {
  const relays: LiveRelay[] = [];
  const pages = paginateScan({ client }, {
    TableName: tableName,
    // Consistent, so a task that just stopped is not handed out as live.
    ConsistentRead: true,
    FilterExpression: '#status = :running AND attribute_exists(publicIp)',
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: { ':running': { S: 'RUNNING' } },
  });
  for await (const page of pages) {
    for (const item of page.Items ?? []) {
      relays.push({
        taskArn: item.taskArn.S!,
        publicIp: item.publicIp.S!,
        port: Number(item.port?.N ?? 443),
        hostname: item.hostname?.S,
        availabilityZone: item.availabilityZone?.S,
        startedAt: item.startedAt?.S,
      });
    }
  }
  return relays.sort((a, b) => a.taskArn.localeCompare(b.taskArn));
}

/** The WebSocket URL browsers use for a relay: its DNS name when it has one (trusted certificate), else its IP. */
export function relayStreamUrl(relay: LiveRelay): string {
  const host = relay.hostname ?? relay.publicIp;
  return relay.port === 443 ? `wss://${host}/v1/stream` : `wss://${host}:${relay.port}/v1/stream`;
}
