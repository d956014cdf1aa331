import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { probeRelay } from '../registry/health-probe';
import { listLiveRelays, relayStreamUrl } from '../registry/live-relays';
import { rankRelays } from '../registry/rank-relays';

const dynamodb = new DynamoDBClient({});

/** Short, so one dead relay cannot hold up the answer a broadcaster page is waiting for. */
const PROBE_TIMEOUT_MS = 1500;

/** The endpoints API (a Lambda function URL): live relays as JSON, least-loaded first. */
export const handler = async (): Promise<{ statusCode: number; headers: Record<string, string>; body: string }> => {
  const relays = await listLiveRelays(dynamodb, process.env.TABLE_NAME!);
  const probed = await Promise.all(relays.map(async relay => ({ relay, probe: await probeRelay(relay, PROBE_TIMEOUT_MS) })));
  const body = rankRelays(probed).map(({ relay, probe }) => ({
    url: relayStreamUrl(relay),
    publicIp: relay.publicIp,
    port: relay.port,
    ...(relay.hostname ? { hostname: relay.hostname } : {}),
    availabilityZone: relay.availabilityZone,
    health: probe.status,
    ...(probe.sessions !== undefined ? { sessions: probe.sessions } : {}),
  }));
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify({ relays: body }),
  };
};
