import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Answer, readSharedAnswer, writeSharedAnswer } from './shared-answer';
import { probeRelay } from '../registry/health-probe';
import { listLiveRelays, relayStreamUrl } from '../registry/live-relays';
import { rankRelays } from '../registry/rank-relays';

const dynamodb = new DynamoDBClient({});

/** Short, so one dead relay cannot hold up the answer a broadcaster page is waiting for. */
const PROBE_TIMEOUT_MS = 1500;
/**
 * The URL is public: a burst of requests reuses one table scan and one round of probes, across
 * every instance of the function (a flood scales it out), through the answer kept in the table.
 */
const CACHE_MS = 5000;
let cached: Answer | undefined;

/** The endpoints API (a Lambda function URL): live relays as JSON, least-loaded first. */
export const handler = async (): Promise<{ statusCode: number; headers: Record<string, string>; body: string }> => {
  if (!cached || Date.now() - cached.at > CACHE_MS) cached = await sharedOrFreshAnswer();
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json', 'cache-control': `max-age=${CACHE_MS / 1000}` },
    body: cached.body,
  };
};

async function sharedOrFreshAnswer(): Promise<Answer> {
  const table = process.env.TABLE_NAME!;
  const shared = await readSharedAnswer(dynamodb, table);
  if (shared && Date.now() - shared.at <= CACHE_MS) return shared;
  const fresh = { at: Date.now(), body: await liveRelaysJson() };
  try {
    await writeSharedAnswer(dynamodb, table, fresh);
  } catch (e) {
    // Only the sharing is lost: this instance still answers.
    console.warn(JSON.stringify({ msg: 'could not store the shared answer', error: String(e) }));
  }
  return fresh;
}

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
