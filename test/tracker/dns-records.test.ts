// Per-task DNS records kept by the tracker, against dynalite (real) and Route 53 / EC2 stand-ins
// (neither has a local implementation; see route53-stub.ts and startEc2Stub).
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { captureLogs, createRegistryTable, Dynalite, Ec2Stub, FIXTURE_ENI_ID, startDynalite, startEc2Stub, taskEvent } from './harness';
import { Route53Stub, startRoute53Stub } from './route53-stub';

type Handler = typeof import('../../src/tracker/tracker.lambda').handler;

const TABLE = 'relay-tasks-dns';
const DOMAIN = 'relay.example.com';
const PUBLIC_IP = '203.0.113.10';

let db: Dynalite;
let ec2: Ec2Stub;
let r53: Route53Stub;
let client: DynamoDBClient;
let handler: Handler;
let logs: ReturnType<typeof captureLogs>;
let seq = 0;
const saved = { ...process.env };

function newTask(): { taskArn: string; hostname: string } {
  seq += 1;
  const id = `${String(seq).padStart(8, '0')}f1f4fe4a2971f76ae5a47ad`;
  return { taskArn: `arn:aws:ecs:us-west-2:111122223333:task/FargateCluster/${id}`, hostname: `${id}.${DOMAIN}` };
}

async function storedHostname(taskArn: string): Promise<string | undefined> {
  const { Item } = await client.send(new GetItemCommand({ TableName: TABLE, Key: { taskArn: { S: taskArn } }, ConsistentRead: true }));
  return Item?.hostname?.S;
}

beforeAll(async () => {
  [db, ec2, r53] = await Promise.all([startDynalite(), startEc2Stub(), startRoute53Stub()]);
  delete process.env.AWS_PROFILE;
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
    AWS_ENDPOINT_URL_EC2: ec2.endpoint,
    AWS_ENDPOINT_URL_ROUTE_53: r53.endpoint,
    AWS_REGION: 'us-west-2',
    AWS_ACCESS_KEY_ID: 'AKIDTEST',
    AWS_SECRET_ACCESS_KEY: 'test-secret',
    AWS_EC2_METADATA_DISABLED: 'true',
    TABLE_NAME: TABLE,
    DNS_ZONE_ID: 'Z0123456789ABCDEFGHIJ',
    DNS_DOMAIN: DOMAIN,
    DNS_TTL: '60',
  });
  client = new DynamoDBClient({});
  await createRegistryTable(client, TABLE);
  handler = jest.requireActual<typeof import('../../src/tracker/tracker.lambda')>('../../src/tracker/tracker.lambda').handler;
});

afterAll(async () => {
  client?.destroy();
  await Promise.all([ec2?.close(), r53?.close(), db?.close()]);
  process.env = saved;
});

beforeEach(() => {
  ec2.enis.clear();
  ec2.enis.set(FIXTURE_ENI_ID, { privateIp: '10.0.0.139', publicIp: PUBLIC_IP });
  r53.changes.length = 0;
  r53.failNextChanges = 0;
  r53.onChange = undefined;
  logs = captureLogs();
});

afterEach(() => logs.restore());

test('RUNNING adds <task-id>.<domain> → public IP and records the hostname; STOPPED removes the record', async () => {
  const { taskArn, hostname } = newTask();
  await handler(taskEvent({ taskArn, version: 3 }));
  expect(r53.records.get(hostname)).toBe(PUBLIC_IP);
  expect(await storedHostname(taskArn)).toBe(hostname);

  await handler(taskEvent({ taskArn, version: 4, lastStatus: 'STOPPED', desiredStatus: 'STOPPED' }));
  expect(r53.records.has(hostname)).toBe(false);
  expect(r53.changes).toEqual([`UPSERT ${hostname} ${PUBLIC_IP}`, `DELETE ${hostname} ${PUBLIC_IP}`]);
  expect(await storedHostname(taskArn)).toBeUndefined();
});

test('a DRAINING task keeps its record until it stops', async () => {
  const { taskArn, hostname } = newTask();
  await handler(taskEvent({ taskArn, version: 3 }));
  await handler(taskEvent({ taskArn, version: 4, desiredStatus: 'STOPPED' }));
  expect(r53.records.get(hostname)).toBe(PUBLIC_IP);
});

test('a STOPPED event that arrives before the RUNNING one leaves no record behind', async () => {
  const { taskArn, hostname } = newTask();
  await handler(taskEvent({ taskArn, version: 5, lastStatus: 'STOPPED', desiredStatus: 'STOPPED' }));
  await handler(taskEvent({ taskArn, version: 4 }));
  expect(r53.records.has(hostname)).toBe(false);
  expect(r53.changes).toEqual([]);
});

test('a failed Route 53 change is retried by the replayed event, which the table alone would have dropped', async () => {
  const { taskArn, hostname } = newTask();
  // Throttled on every attempt the SDK makes (3 by default), so the invocation fails.
  r53.failNextChanges = 3;
  await expect(handler(taskEvent({ taskArn, version: 3 }))).rejects.toThrow();
  expect(r53.records.has(hostname)).toBe(false);
  // EventBridge delivers the same event again.
  await handler(taskEvent({ taskArn, version: 3 }));
  expect(r53.records.get(hostname)).toBe(PUBLIC_IP);
  expect(logs.lines().map(l => l.msg)).toContain('duplicate event: applying its DNS change again');
});

test('a duplicate STOPPED event is harmless once the record is gone', async () => {
  const { taskArn, hostname } = newTask();
  await handler(taskEvent({ taskArn, version: 3 }));
  const stopped = taskEvent({ taskArn, version: 4, lastStatus: 'STOPPED', desiredStatus: 'STOPPED' });
  await handler(stopped);
  await handler(stopped);
  expect(r53.records.has(hostname)).toBe(false);
  expect(r53.changes.filter(c => c.startsWith('DELETE'))).toHaveLength(1);
});

test('a record added while a newer STOPPED event was handled is taken back', async () => {
  const { taskArn, hostname } = newTask();
  // While this RUNNING event's UPSERT is in flight, a concurrent invocation records the task as STOPPED.
  r53.onChange = async (action) => {
    if (action !== 'UPSERT') return;
    await client.send(new PutItemCommand({
      TableName: TABLE,
      Item: { taskArn: { S: taskArn }, status: { S: 'STOPPED' }, version: { N: '9' }, clusterArn: { S: 'c' }, port: { N: '443' }, updatedAt: { S: 'now' } },
    }));
  };
  await handler(taskEvent({ taskArn, version: 3 }));
  expect(r53.records.has(hostname)).toBe(false);
  expect(r53.changes).toEqual([`UPSERT ${hostname} ${PUBLIC_IP}`, `DELETE ${hostname} ${PUBLIC_IP}`]);
});
