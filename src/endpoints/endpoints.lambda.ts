import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { probeRelay } from '../registry/health-probe';
import { listLiveRelays, relayStreamUrl } from '../registry/live-relays';
import { rankRelays } from '../registry/rank-relays';

const dynamodb = new DynamoDBClient({});

/** Short, so one dead relay cannot hold up the answer a broadcaster page is waiting for. */
const PROBE_TIMEOUT_MS = 1500;
/** The URL is public: a burst of requests reuses one table scan and one round of probes. */
const CACHE_MS = 5000;
let cached: { at: number; body: string } | undefined;

/** The endpoints API (a Lambda function URL): live relays as JSON, least-loaded first. */
export const handler = async (): Promise<{ statusCode: number; headers: Record<string, string>; body: string }> => {
  if (!cached || Date.now() - cached.at > CACHE_MS) cached = { at: Date.now(), body: await liveRelaysJson() };
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json', 'cache-control': `max-age=${CACHE_MS / 1000}` },
    body: cached.body,
  };
};

async function liveRelaysJson(): Promise<string> {
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
  return JSON.stringify({ relays: body });
}
