import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { createRegistryTable, Dynalite, putRegistryItem, startDynalite } from './support/dynalite';
import { freePort } from '../harness/ports';
import { RelayProcess, startRelay } from '../harness/relay-process';
import { listLiveRelays } from '../src/registry/live-relays';
import { rankRelays } from '../src/registry/rank-relays';
import { SHARED_ANSWER_KEY } from '../src/registry/registry-item';

// The endpoints Lambda against dynalite (through the real SDK) and a real relay on loopback.
const TABLE = 'endpoints-relays';
let db: Dynalite;
let relay: RelayProcess;
let closedPort: number;
let handler: () => Promise<{ statusCode: number; headers: Record<string, string>; body: string }>;

beforeAll(async () => {
  [db, relay, closedPort] = await Promise.all([startDynalite(), startRelay({ RELAY_TLS: 'self-signed', RELAY_AUTH: 'none' }), freePort()]);
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_DYNAMODB: db.endpoint, AWS_REGION: 'us-west-2', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', TABLE_NAME: TABLE,
  });
  const client = new DynamoDBClient({});
  await createRegistryTable(client, TABLE);
  const arn = (id: string) => `arn:aws:ecs:us-west-2:1:task/c/${id}`;
  await putRegistryItem(client, TABLE, { taskArn: arn('a-unreachable'), status: 'RUNNING', publicIp: '127.0.0.1', port: closedPort });
  await putRegistryItem(client, TABLE, { taskArn: arn('b-live'), status: 'RUNNING', publicIp: '127.0.0.1', port: relay.port, availabilityZone: 'us-west-2a' });
  await putRegistryItem(client, TABLE, { taskArn: arn('c-draining'), status: 'DRAINING', publicIp: '127.0.0.1', port: relay.port });
  await putRegistryItem(client, TABLE, { taskArn: arn('d-stopped'), status: 'STOPPED' });
  client.destroy();
  // Loaded after the environment is set: the handler builds its client at module scope.
  handler = jest.requireActual('../src/endpoints/endpoints.lambda').handler;
});

afterAll(async () => {
  await relay?.stop();
  await db?.close();
});

test('answers live relays as JSON, reachable ones first with their session count', async () => {
  const res = await handler();
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toBe('application/json');
  const { relays } = JSON.parse(res.body);
  expect(relays).toEqual([
    { url: `wss://127.0.0.1:${relay.port}/v1/stream`, publicIp: '127.0.0.1', port: relay.port, availabilityZone: 'us-west-2a', health: 'ok', sessions: 0 },
    { url: `wss://127.0.0.1:${closedPort}/v1/stream`, publicIp: '127.0.0.1', port: closedPort, health: 'unreachable' },
  ]);
});

test('instances of the function share one answer through the table, which no reader takes for a relay', async () => {
  const [first, second] = [1, 2].map(() => {
    let h: typeof handler | undefined;
    // A fresh module is a fresh instance of the function: nothing cached in memory.
    jest.isolateModules(() => {
      h = jest.requireActual('../src/endpoints/endpoints.lambda').handler;
    });
    return h!;
  });
  const answer = await first();
  const client = new DynamoDBClient({});
  await putRegistryItem(client, TABLE, { taskArn: 'arn:aws:ecs:us-west-2:1:task/c/f-newer', status: 'RUNNING', publicIp: '127.0.0.1', port: closedPort });
  expect((await second()).body).toBe(answer.body);
  expect(answer.body).not.toContain('f-newer');
  // The shared item is in the table, and the CLI's and the API's reading of live relays skips it.
  const stored = await client.send(new GetItemCommand({ TableName: TABLE, Key: { taskArn: { S: SHARED_ANSWER_KEY } } }));
  expect(stored.Item?.body?.S).toBe(answer.body);
  expect(Number(stored.Item?.expiresAt?.N)).toBeGreaterThan(Date.now() / 1000);
  expect((await listLiveRelays(client, TABLE)).map((r) => r.taskArn)).not.toContain(SHARED_ANSWER_KEY);
  client.destroy();
});

test('serves a burst of requests from one scan (a 5 s cache)', async () => {
  const first = await handler();
  const client = new DynamoDBClient({});
  await putRegistryItem(client, TABLE, { taskArn: 'arn:aws:ecs:us-west-2:1:task/c/e-new', status: 'RUNNING', publicIp: '127.0.0.1', port: closedPort });
  client.destroy();
  expect((await handler()).body).toBe(first.body);
  expect(first.headers['cache-control']).toBe('max-age=5');
});

describe('rankRelays', () => {
  const relayAt = (ip: string) => ({ taskArn: ip, publicIp: ip, port: 443 });
  test('orders by fewest sessions, puts unreachable relays last and drops draining ones', () => {
    const ranked = rankRelays([
      { relay: relayAt('busy'), probe: { status: 'ok', sessions: 9 } },
      { relay: relayAt('gone'), probe: { status: 'unreachable' } },
      { relay: relayAt('leaving'), probe: { status: 'draining', sessions: 1 } },
      { relay: relayAt('idle'), probe: { status: 'ok', sessions: 0 } },
      { relay: relayAt('some'), probe: { status: 'ok', sessions: 3 } },
    ]);
    expect(ranked.map(r => r.relay.publicIp)).toEqual(['idle', 'some', 'busy', 'gone']);
  });
});
