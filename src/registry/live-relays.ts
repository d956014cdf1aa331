import { DynamoDBClient, paginateScan } from '@aws-sdk/client-dynamodb';
import { LIVE_RELAYS_FILTER, unmarshalItem } from './registry-item';
import { STREAM_PATH } from '../relay-paths';

/** A relay task that can take streams (docs/registry.md#live-relays: `status = RUNNING` with a `publicIp`). */
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
    ...LIVE_RELAYS_FILTER,
  });
  for await (const page of pages) {
    for (const values of page.Items ?? []) {
      const item = unmarshalItem(values);
      if (!item?.publicIp) continue;
      relays.push({
        taskArn: item.taskArn,
        publicIp: item.publicIp,
        port: item.port,
        hostname: item.hostname,
        availabilityZone: item.availabilityZone,
        startedAt: item.startedAt,
      });
    }
  }
  return relays.sort((a, b) => a.taskArn.localeCompare(b.taskArn));
}

/** The WebSocket URL browsers use for a relay: its DNS name when it has one (trusted certificate), else its IP. */
export function relayStreamUrl(relay: LiveRelay): string {
  const host = relay.hostname ?? relay.publicIp;
  return relay.port === 443 ? `wss://${host}${STREAM_PATH}` : `wss://${host}:${relay.port}${STREAM_PATH}`;
}
