// The tracker handler against a real DynamoDB stand-in (dynalite) and the real AWS SDK clients.
// EC2 is the only stand-in that is not a real implementation: see startEc2Stub in ./harness.
import { DynamoDBClient, GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import {
  captureLogs, createRegistryTable, Dynalite, Ec2Stub, FIXTURE_ENI_ID, startDynalite, startEc2Stub, taskEvent,
} from './harness';

type Handler = typeof import('../../src/tracker/tracker.lambda').handler;

const TABLE = 'relay-tasks';
const ENV_KEYS = [
  'AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL_EC2', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_EC2_METADATA_DISABLED', 'TABLE_NAME', 'RELAY_PORT',
];
const savedEnv: Record<string, string | undefined> = {};

let db: Dynalite;
let ec2: Ec2Stub;
let client: DynamoDBClient;
let handler: Handler;
let logs: ReturnType<typeof captureLogs>;
let seq = 0;

/** A fresh task ARN per test so tests never see each other's items. */
function newTaskArn(): string {
  seq += 1;
  return `arn:aws:ecs:us-west-2:111122223333:task/FargateCluster/${String(seq).padStart(8, '0')}f1f4fe4a2971f76ae5a47ad`;
}

async function readItem(taskArn: string): Promise<Record<string, string | number> | undefined> {
  const { Item } = await client.send(new GetItemCommand({ TableName: TABLE, Key: { taskArn: { S: taskArn } }, ConsistentRead: true }));
  if (!Item) return undefined;
  const plain: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(Item)) {
    if (v.S !== undefined) plain[k] = v.S;
    else if (v.N !== undefined) plain[k] = Number(v.N);
    else throw new Error(`unexpected attribute type for ${k}: ${JSON.stringify(v)}`);
  }
  return plain;
}

async function itemCount(): Promise<number> {
  const { Count } = await client.send(new ScanCommand({ TableName: TABLE, Select: 'COUNT', ConsistentRead: true }));
  return Count ?? 0;
}

beforeAll(async () => {
  for (const k of ENV_KEYS) savedEnv[k] = process.env[k];
  db = await startDynalite();
  ec2 = await startEc2Stub();
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.RELAY_PORT;
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
    AWS_ENDPOINT_URL_EC2: ec2.endpoint,
    AWS_REGION: 'us-west-2',
    AWS_ACCESS_KEY_ID: 'AKIDTEST',
    AWS_SECRET_ACCESS_KEY: 'test-secret',
    AWS_EC2_METADATA_DISABLED: 'true',
    TABLE_NAME: TABLE,
  });
  // Same default configuration chain as the handler: the endpoint comes from AWS_ENDPOINT_URL_DYNAMODB.
  client = new DynamoDBClient({});
  await createRegistryTable(client, TABLE);
  // Loaded only now (not by a hoisted import), so its module-scope clients are built with the environment above.
  handler = jest.requireActual<typeof import('../../src/tracker/tracker.lambda')>('../../src/tracker/tracker.lambda').handler;
});

afterAll(async () => {
  client?.destroy();
  await ec2?.close();
  await db?.close();
  for (const k of ENV_KEYS) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
});

beforeEach(() => {
  ec2.requests.length = 0;
  ec2.enis.clear();
  logs = captureLogs();
});

afterEach(() => {
  logs?.restore();
  process.env.TABLE_NAME = TABLE;
  delete process.env.RELAY_PORT;
});

test('the handler module reached dynalite through AWS_ENDPOINT_URL_DYNAMODB (sanity check of the setup)', async () => {
  const taskArn = newTaskArn();
  ec2.enis.set(FIXTURE_ENI_ID, { privateIp: '10.0.0.139', publicIp: '203.0.113.10' });
  await handler(taskEvent({ taskArn }));
  expect(await readItem(taskArn)).toBeDefined();
  expect(ec2.requests).toEqual([[FIXTURE_ENI_ID]]);
});

test('PENDING writes nothing, RUNNING records the live relay, STOPPED leaves a tombstone that expires a day later', async () => {
  const taskArn = newTaskArn();
  const eniId = 'eni-0a1b2c3d4e5f60001';
  ec2.enis.set(eniId, { privateIp: '10.0.0.139', publicIp: '203.0.113.25' });

  await handler(taskEvent({ taskArn, eniId, lastStatus: 'PENDING', desiredStatus: 'RUNNING', version: 1 }));
  expect(await readItem(taskArn)).toBeUndefined();
  expect(ec2.requests).toEqual([]);

  await handler(taskEvent({ taskArn, eniId, lastStatus: 'RUNNING', desiredStatus: 'RUNNING', version: 2 }));
  expect(ec2.requests).toEqual([[eniId]]);
  expect(await readItem(taskArn)).toEqual({
    taskArn,
    clusterArn: 'arn:aws:ecs:us-west-2:111122223333:cluster/FargateCluster',
    group: 'family:sample-fargate',
    status: 'RUNNING',
    publicIp: '203.0.113.25',
    privateIp: '10.0.0.139',
    port: 443,
    availabilityZone: 'us-west-2c',
    startedAt: '2020-01-23T17:57:58.103Z',
    updatedAt: '2020-01-23T17:57:58.103Z',
    version: 2,
  });

  const stoppedAt = '2020-01-23T18:30:00.250Z';
  await handler(taskEvent({
    taskArn, eniId, lastStatus: 'STOPPED', desiredStatus: 'STOPPED', version: 3, updatedAt: '2020-01-23T18:30:01.000Z', stoppedAt,
  }));
  expect(ec2.requests).toHaveLength(1); // a stopped task needs no ENI lookup
  const stopped = await readItem(taskArn);
  expect(stopped).toMatchObject({ taskArn, status: 'STOPPED', version: 3, updatedAt: '2020-01-23T18:30:01.000Z' });
  expect(stopped).not.toHaveProperty('publicIp');
  // epoch seconds, not milliseconds
  expect(stopped!.expiresAt).toBe(Math.floor(Date.parse(stoppedAt) / 1000) + 86_400);
  expect(stopped!.expiresAt).toBeLessThan(1e11);
  expect(logs.lines().some((l) => l.msg === 'task recorded' && l.taskArn === taskArn && l.status === 'STOPPED' && l.version === 3)).toBe(true);
});

test('a duplicate event is accepted and changes nothing', async () => {
  const taskArn = newTaskArn();
  ec2.enis.set(FIXTURE_ENI_ID, { privateIp: '10.0.0.139', publicIp: '203.0.113.30' });
  const event = taskEvent({ taskArn, version: 4 });
  await handler(event);
  const first = await readItem(taskArn);

  // Were the duplicate written, the item would now carry this other address.
  ec2.enis.set(FIXTURE_ENI_ID, { privateIp: '10.0.0.139', publicIp: '198.51.100.99' });
  await expect(handler(structuredClone(event))).resolves.toBeUndefined();
  expect(await readItem(taskArn)).toEqual(first);
  expect(first).toMatchObject({ publicIp: '203.0.113.30', version: 4 });
  const stale = logs.lines().filter((l) => l.msg.startsWith('stale or duplicate event'));
  expect(stale).toEqual([expect.objectContaining({ level: 'info', taskArn, status: 'RUNNING', version: 4 })]);
});

test('events out of order: STOPPED v5 delivered before RUNNING v4 stays STOPPED', async () => {
  const taskArn = newTaskArn();
  ec2.enis.set(FIXTURE_ENI_ID, { privateIp: '10.0.0.139', publicIp: '203.0.113.40' });
  await handler(taskEvent({ taskArn, lastStatus: 'STOPPED', desiredStatus: 'STOPPED', version: 5, updatedAt: '2020-01-23T19:00:00.000Z' }));
  await expect(handler(taskEvent({ taskArn, version: 4 }))).resolves.toBeUndefined();
  const item = await readItem(taskArn);
  expect(item).toMatchObject({ status: 'STOPPED', version: 5, expiresAt: Date.parse('2020-01-23T19:00:00.000Z') / 1000 + 86_400 });
  expect(item).not.toHaveProperty('publicIp');
});

test('a late RUNNING event with a lower version does not resurrect a stopped task', async () => {
  const taskArn = newTaskArn();
  ec2.enis.set(FIXTURE_ENI_ID, { privateIp: '10.0.0.139', publicIp: '203.0.113.45' });
  await handler(taskEvent({ taskArn, version: 4 }));
  await handler(taskEvent({ taskArn, lastStatus: 'STOPPED', desiredStatus: 'STOPPED', version: 7 }));
  await handler(taskEvent({ taskArn, version: 5 })); // delayed delivery of an older RUNNING
  await handler(taskEvent({ taskArn, lastStatus: 'RUNNING', desiredStatus: 'STOPPED', version: 6 }));
  expect(await readItem(taskArn)).toMatchObject({ status: 'STOPPED', version: 7 });
});

test('lastStatus RUNNING with desiredStatus STOPPED is recorded as DRAINING', async () => {
  const taskArn = newTaskArn();
  ec2.enis.set(FIXTURE_ENI_ID, { privateIp: '10.0.0.139', publicIp: '203.0.113.50' });
  await handler(taskEvent({ taskArn, version: 4 }));
  await handler(taskEvent({ taskArn, desiredStatus: 'STOPPED', version: 5 }));
  expect(await readItem(taskArn)).toMatchObject({ status: 'DRAINING', version: 5, publicIp: '203.0.113.50', privateIp: '10.0.0.139' });
});

test.each(['PROVISIONING', 'PENDING', 'ACTIVATING', 'DEACTIVATING', 'STOPPING', 'DEPROVISIONING'])(
  'lastStatus %s writes nothing and does not touch an existing item', async (lastStatus) => {
    const taskArn = newTaskArn();
    await handler(taskEvent({ taskArn, lastStatus, desiredStatus: 'STOPPED', version: 9 }));
    expect(await readItem(taskArn)).toBeUndefined();

    ec2.enis.set(FIXTURE_ENI_ID, { privateIp: '10.0.0.139', publicIp: '203.0.113.55' });
    await handler(taskEvent({ taskArn, version: 4 }));
    await handler(taskEvent({ taskArn, lastStatus, desiredStatus: 'STOPPED', version: 10 }));
    expect(await readItem(taskArn)).toMatchObject({ status: 'RUNNING', version: 4 });
    expect(ec2.requests).toHaveLength(1);
  });

test('a task without a public IP is recorded without a publicIp attribute', async () => {
  const taskArn = newTaskArn();
  const eniId = 'eni-0a1b2c3d4e5f60002';
  ec2.enis.set(eniId, { privateIp: '10.0.1.17' });
  await handler(taskEvent({ taskArn, eniId, privateIp: '10.0.1.17' }));
  const item = await readItem(taskArn);
  expect(item).toMatchObject({ status: 'RUNNING', privateIp: '10.0.1.17', port: 443 });
  expect(item).not.toHaveProperty('publicIp');
  expect(ec2.requests).toEqual([[eniId]]);
});

test('an ENI that no longer exists is treated as no public IP', async () => {
  const taskArn = newTaskArn();
  const eniId = 'eni-0deadbeef0000gone';
  await expect(handler(taskEvent({ taskArn, eniId, desiredStatus: 'STOPPED', version: 6 }))).resolves.toBeUndefined();
  expect(ec2.requests).toEqual([[eniId]]);
  const item = await readItem(taskArn);
  expect(item).toMatchObject({ status: 'DRAINING', version: 6, privateIp: '10.0.0.139' });
  expect(item).not.toHaveProperty('publicIp');
  expect(logs.lines()).toContainEqual(expect.objectContaining({ msg: expect.stringContaining('ENI no longer exists'), networkInterfaceId: eniId }));
});

test('any other EC2 error throws so EventBridge retries, and nothing is written', async () => {
  const taskArn = newTaskArn();
  ec2.enis.set(FIXTURE_ENI_ID, { errorCode: 'UnauthorizedOperation' });
  await expect(handler(taskEvent({ taskArn }))).rejects.toMatchObject({ name: 'UnauthorizedOperation' });
  expect(await readItem(taskArn)).toBeUndefined();
  expect(logs.lines()).toContainEqual(expect.objectContaining({ level: 'error', taskArn, error: 'UnauthorizedOperation' }));
});

test('the ENI is found by detail name, not position (details reversed)', async () => {
  const taskArn = newTaskArn();
  const eniId = 'eni-0a1b2c3d4e5f60003';
  ec2.enis.set(eniId, { privateIp: '10.0.2.33', publicIp: '203.0.113.60' });
  const event = taskEvent({ taskArn, eniId, privateIp: '10.0.2.33', reverseDetails: true });
  expect(event.detail.attachments[0].details.map((d: { name: string }) => d.name))
    .toEqual(['privateIPv4Address', 'macAddress', 'networkInterfaceId', 'subnetId']);
  await handler(event);
  expect(ec2.requests).toEqual([[eniId]]);
  expect(await readItem(taskArn)).toMatchObject({ status: 'RUNNING', publicIp: '203.0.113.60', privateIp: '10.0.2.33' });
});

test('the port attribute comes from RELAY_PORT', async () => {
  const taskArn = newTaskArn();
  process.env.RELAY_PORT = '8443';
  ec2.enis.set(FIXTURE_ENI_ID, { privateIp: '10.0.0.139', publicIp: '203.0.113.65' });
  await handler(taskEvent({ taskArn }));
  expect(await readItem(taskArn)).toMatchObject({ port: 8443 });
});

describe('malformed events are logged and dropped', () => {
  const cases: Array<[string, (e: any) => unknown, RegExp]> = [
    ['detail missing', (e) => { delete e.detail; return e; }, /detail is missing/],
    ['detail not an object', (e) => { e.detail = 'RUNNING'; return e; }, /detail is not an object/],
    ['taskArn missing', (e) => { delete e.detail.taskArn; return e; }, /detail\.taskArn is missing/],
    ['clusterArn empty', (e) => { e.detail.clusterArn = ''; return e; }, /detail\.clusterArn/],
    ['lastStatus missing', (e) => { delete e.detail.lastStatus; return e; }, /detail\.lastStatus is missing/],
    ['desiredStatus not a string', (e) => { e.detail.desiredStatus = 1; return e; }, /detail\.desiredStatus is not a non-empty string/],
    ['version a string', (e) => { e.detail.version = '4'; return e; }, /detail\.version is not a non-negative integer/],
    ['version missing', (e) => { delete e.detail.version; return e; }, /detail\.version is missing/],
    ['version fractional', (e) => { e.detail.version = 4.5; return e; }, /detail\.version/],
    ['updatedAt not a timestamp', (e) => { e.detail.updatedAt = 'yesterday'; return e; }, /detail\.updatedAt is not an ISO 8601 timestamp/],
    ['attachments not an array', (e) => { e.detail.attachments = {}; return e; }, /detail\.attachments is not an array/],
    ['wrong detail-type', (e) => { e['detail-type'] = 'ECS Container Instance State Change'; return e; }, /detail-type/],
    ['not an object at all', () => null, /event is not an object/],
  ];

  test.each(cases)('%s', async (_name, mutate, reason) => {
    const taskArn = newTaskArn();
    ec2.enis.set(FIXTURE_ENI_ID, { privateIp: '10.0.0.139', publicIp: '203.0.113.70' });
    const before = await itemCount();
    await expect(handler(mutate(taskEvent({ taskArn })) as any)).resolves.toBeUndefined();
    expect(await itemCount()).toBe(before);
    expect(await readItem(taskArn)).toBeUndefined();
    expect(ec2.requests).toEqual([]);
    const lines = logs.lines();
    expect(lines).toHaveLength(1);
    expect(lines[0].level).toBe('warn');
    expect(lines[0].msg).toMatch(/^dropping malformed ECS task state change event: /);
    expect(lines[0].msg).toMatch(reason);
  });
});

test('an unexpected DynamoDB failure (missing table) throws so EventBridge retries', async () => {
  const taskArn = newTaskArn();
  process.env.TABLE_NAME = 'no-such-table';
  ec2.enis.set(FIXTURE_ENI_ID, { privateIp: '10.0.0.139', publicIp: '203.0.113.80' });
  await expect(handler(taskEvent({ taskArn }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  expect(await readItem(taskArn)).toBeUndefined();
  expect(logs.lines()).toContainEqual(expect.objectContaining({ level: 'error', taskArn, error: 'ResourceNotFoundException' }));
});

test('a missing TABLE_NAME is a configuration error, not a silent drop', async () => {
  delete process.env.TABLE_NAME;
  ec2.enis.set(FIXTURE_ENI_ID, { privateIp: '10.0.0.139', publicIp: '203.0.113.85' });
  await expect(handler(taskEvent({ taskArn: newTaskArn() }))).rejects.toThrow(/TABLE_NAME/);
});
