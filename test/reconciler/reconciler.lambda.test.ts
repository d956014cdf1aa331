// The registry reconciler against dynalite (a real DynamoDB) and the real AWS SDK clients, next to the tracker's
// event path. ECS, EC2 and Route 53 have no local implementation: they are HTTP stand-ins speaking each API's
// protocol (ecs-stub.ts, startEc2Stub, route53-stub.ts), so serialisation and parsing stay real.
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { EcsStub, startEcsStub, StubTask } from './ecs-stub';
import { putRegistryItem } from '../support/dynalite';
import { captureLogs, createRegistryTable, Dynalite, Ec2Stub, startDynalite, startEc2Stub, taskEvent } from '../tracker/harness';
import { Route53Stub, startRoute53Stub } from '../tracker/route53-stub';

type TrackerHandler = typeof import('../../src/tracker/tracker.lambda').handler;
type ReconcilerHandler = typeof import('../../src/reconciler/reconciler.lambda').handler;

const CLUSTER = 'arn:aws:ecs:us-west-2:111122223333:cluster/Relays';
const SERVICE = 'LiveRelay-Relay_0a1b2c3d';
const GROUP_PREFIX = 'service:LiveRelay-Relay_';
const DOMAIN = 'relay.example.com';
const NOW_S = Math.floor(Date.now() / 1000);
const AN_HOUR_AGO = new Date((NOW_S - 3600) * 1000).toISOString();

let db: Dynalite;
let ec2: Ec2Stub;
let r53: Route53Stub;
let ecs: EcsStub;
let client: DynamoDBClient;
let track: TrackerHandler;
let reconcile: ReconcilerHandler;
let logs: ReturnType<typeof captureLogs>;
let metricLines: string[];
let stdoutSpy: jest.SpyInstance;
let seq = 0;
const saved = { ...process.env };

interface TestTask {
  readonly taskArn: string;
  readonly hostname: string;
  readonly eniId: string;
  readonly publicIp: string;
}

/** A fresh task, with an ENI that EC2 reports with a public IP. */
function newTask(): TestTask {
  seq += 1;
  const id = `${String(seq).padStart(8, '0')}0123456789abcdef01234567`;
  const task = {
    taskArn: `arn:aws:ecs:us-west-2:111122223333:task/Relays/${id}`,
    hostname: `${id}.${DOMAIN}`,
    eniId: `eni-0000000000000${String(seq).padStart(4, '0')}`,
    publicIp: `203.0.113.${seq}`,
  };
  ec2.enis.set(task.eniId, { privateIp: `10.0.0.${seq}`, publicIp: task.publicIp });
  return task;
}

/** What ECS says about a task now. */
function ecsSays(task: TestTask, state: Partial<StubTask> & Pick<StubTask, 'lastStatus' | 'desiredStatus' | 'version'>): void {
  ecs.tasks.set(task.taskArn, { taskArn: task.taskArn, serviceName: SERVICE, eniId: task.eniId, startedAt: NOW_S - 600, ...state });
}

/** A task state change event of the relay's service, as the tracker's rule delivers it. */
function event(task: TestTask, lastStatus: string, desiredStatus: string, version: number): any {
  const e = taskEvent({ taskArn: task.taskArn, eniId: task.eniId, lastStatus, desiredStatus, version, updatedAt: AN_HOUR_AGO });
  e.detail.clusterArn = CLUSTER;
  e.detail.group = `service:${SERVICE}`;
  return e;
}

async function item(task: TestTask): Promise<Record<string, string> | undefined> {
  const key = { taskArn: { S: task.taskArn } };
  const { Item } = await client.send(new GetItemCommand({ TableName: process.env.TABLE_NAME, Key: key, ConsistentRead: true }));
  return Item && Object.fromEntries(Object.entries(Item).map(([k, v]) => [k, v.S ?? v.N!]));
}

/** One scheduled run; returns the RegistryRepairs value it wrote. */
async function scheduledRun(): Promise<number> {
  metricLines.length = 0;
  await reconcile({ 'detail-type': 'Scheduled Event', 'source': 'aws.events' } as any);
  expect(metricLines).toHaveLength(1);
  const metric = JSON.parse(metricLines[0]);
  expect(metric._aws.CloudWatchMetrics).toEqual([
    { Namespace: 'TranswrapRelay', Dimensions: [['Service']], Metrics: [{ Name: 'RegistryRepairs', Unit: 'Count' }] },
  ]);
  expect(metric.Service).toBe('LiveRelay/Relay');
  return metric.RegistryRepairs;
}

function customResource(mode: 'AfterDeploy' | 'Teardown', requestType: 'Create' | 'Update' | 'Delete'): CloudFormationCustomResourceEvent {
  return {
    RequestType: requestType,
    ServiceToken: 'arn:aws:lambda:us-west-2:111122223333:function:provider',
    ResponseURL: 'https://cloudformation-custom-resource-response.example/',
    StackId: 'arn:aws:cloudformation:us-west-2:111122223333:stack/LiveRelay/1',
    RequestId: 'r-1',
    LogicalResourceId: mode,
    ResourceType: `Custom::TranswrapRegistry${mode === 'Teardown' ? 'Teardown' : 'Reconcile'}`,
    ResourceProperties: { ServiceToken: 'arn:aws:lambda:us-west-2:111122223333:function:provider', Mode: mode },
    ...(requestType === 'Create' ? {} : { PhysicalResourceId: `registry-${mode}`, OldResourceProperties: {} }),
  } as CloudFormationCustomResourceEvent;
}

const repairLogs = () => logs.lines().filter(l => l.msg.startsWith('registry repaired')).map(l => l.msg);

beforeAll(async () => {
  [db, ec2, r53, ecs] = await Promise.all([startDynalite(), startEc2Stub(), startRoute53Stub(), startEcsStub(CLUSTER)]);
  delete process.env.AWS_PROFILE;
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
    AWS_ENDPOINT_URL_EC2: ec2.endpoint,
    AWS_ENDPOINT_URL_ROUTE_53: r53.endpoint,
    AWS_ENDPOINT_URL_ECS: ecs.endpoint,
    AWS_REGION: 'us-west-2',
    AWS_ACCESS_KEY_ID: 'AKIDTEST',
    AWS_SECRET_ACCESS_KEY: 'test-secret',
    AWS_EC2_METADATA_DISABLED: 'true',
    DNS_ZONE_ID: 'Z0123456789ABCDEFGHIJ',
    DNS_DOMAIN: DOMAIN,
    DNS_TTL: '60',
    CLUSTER_ARN: CLUSTER,
    SERVICE_NAME: SERVICE,
    SERVICE_GROUP_PREFIX: GROUP_PREFIX,
    METRICS_SERVICE: 'LiveRelay/Relay',
  });
  client = new DynamoDBClient({});
  // Loaded only now, so their module-scope clients are built with the environment above.
  track = jest.requireActual<typeof import('../../src/tracker/tracker.lambda')>('../../src/tracker/tracker.lambda').handler;
  reconcile = jest.requireActual<typeof import('../../src/reconciler/reconciler.lambda')>('../../src/reconciler/reconciler.lambda').handler;
});

afterAll(async () => {
  client?.destroy();
  await Promise.all([ec2?.close(), r53?.close(), ecs?.close(), db?.close()]);
  process.env = saved;
});

beforeEach(async () => {
  // Each test has its own table, cluster state and zone: a reconcile looks at everything of the service.
  process.env.TABLE_NAME = `registry-${seq}`;
  await createRegistryTable(client, process.env.TABLE_NAME);
  ecs.tasks.clear();
  ecs.services.clear();
  ecs.services.add(SERVICE);
  ecs.calls.length = 0;
  r53.records.clear();
  r53.changes.length = 0;
  logs = captureLogs();
  metricLines = [];
  const write = process.stdout.write.bind(process.stdout);
  stdoutSpy = jest.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: any[]) => {
    if (String(chunk).includes('"_aws"')) {
      metricLines.push(String(chunk));
      return true;
    }
    return write(chunk, ...rest);
  }) as typeof process.stdout.write);
});

afterEach(() => {
  stdoutSpy.mockRestore();
  logs.restore();
});

test('(a) an empty registry and two running tasks: one run records both with their public IPs, and their DNS records', async () => {
  const [a, b] = [newTask(), newTask()];
  ecsSays(a, { lastStatus: 'RUNNING', desiredStatus: 'RUNNING', version: 3 });
  ecsSays(b, { lastStatus: 'RUNNING', desiredStatus: 'RUNNING', version: 4 });

  expect(await scheduledRun()).toBe(4);
  for (const [task, version] of [[a, '3'], [b, '4']] as const) {
    expect(await item(task)).toEqual(expect.objectContaining({
      status: 'RUNNING', version, publicIp: task.publicIp, hostname: task.hostname, clusterArn: CLUSTER, group: `service:${SERVICE}`, port: '443',
    }));
    expect(r53.records.get(task.hostname)).toBe(task.publicIp);
  }
  expect(ecs.calls.every(c => c.endsWith(CLUSTER))).toBe(true);
  expect(repairLogs()).toEqual([
    'registry repaired: task recorded', 'registry repaired: task recorded',
    'registry repaired: DNS record upserted', 'registry repaired: DNS record upserted',
  ]);

  // Nothing left to repair: a second run changes nothing and counts nothing.
  const changes = r53.changes.length;
  expect(await scheduledRun()).toBe(0);
  expect(r53.changes).toHaveLength(changes);
});

test('a reconciled item is exactly the item the event path writes for the same task state', async () => {
  const [byEvent, byReconcile] = [newTask(), newTask()];
  await track(event(byEvent, 'RUNNING', 'RUNNING', 3));
  ecsSays(byReconcile, { lastStatus: 'RUNNING', desiredStatus: 'RUNNING', version: 3 });
  ecsSays(byEvent, { lastStatus: 'RUNNING', desiredStatus: 'RUNNING', version: 3 });
  await scheduledRun();
  const shape = (i: Record<string, string> | undefined) => Object.keys(i ?? {}).sort();
  expect(shape(await item(byReconcile))).toEqual(shape(await item(byEvent)));
});

test('(b) a RUNNING item whose task ECS no longer lists becomes a STOPPED tombstone, and its record goes', async () => {
  const gone = newTask();
  await track(event(gone, 'RUNNING', 'RUNNING', 3));
  expect(r53.records.get(gone.hostname)).toBe(gone.publicIp);

  expect(await scheduledRun()).toBe(2);
  const tombstone = await item(gone);
  expect(tombstone).toEqual(expect.objectContaining({ status: 'STOPPED', version: '3' }));
  expect(tombstone?.publicIp).toBeUndefined();
  expect(tombstone?.hostname).toBeUndefined();
  expect(Number(tombstone?.expiresAt)).toBeGreaterThanOrEqual(NOW_S + 86_400 - 5);
  expect(r53.records.has(gone.hostname)).toBe(false);
  expect(repairLogs()).toEqual([
    'registry repaired: task no longer listed by ECS, recorded as stopped', 'registry repaired: DNS record of no live task deleted',
  ]);
});

test('an item just written by an event is left alone while ECS may not list its task yet, but closed on teardown', async () => {
  const fresh = newTask();
  const e = event(fresh, 'RUNNING', 'RUNNING', 2);
  e.detail.updatedAt = new Date().toISOString();
  await track(e);

  expect(await scheduledRun()).toBe(0);
  expect((await item(fresh))?.status).toBe('RUNNING');

  ecs.services.delete(SERVICE);
  await expect(reconcile(customResource('Teardown', 'Delete'))).resolves.toEqual({ PhysicalResourceId: 'registry-Teardown' });
  expect((await item(fresh))?.status).toBe('STOPPED');
  expect(r53.records.size).toBe(0);
});

test('(c) a reconcile, then an older event: the older event changes nothing, in the table or in DNS', async () => {
  const task = newTask();
  ecsSays(task, { lastStatus: 'STOPPED', desiredStatus: 'STOPPED', version: 5, stoppedAt: NOW_S - 60 });
  expect(await scheduledRun()).toBe(1);
  expect(await item(task)).toEqual(expect.objectContaining({ status: 'STOPPED', version: '5' }));

  await track(event(task, 'RUNNING', 'RUNNING', 4));
  expect(await item(task)).toEqual(expect.objectContaining({ status: 'STOPPED', version: '5' }));
  expect(r53.records.has(task.hostname)).toBe(false);
  expect(r53.changes).toEqual([]);
});

test('(d) a newer event, then a reconcile with older data: no regression, and DNS follows the newer event', async () => {
  const task = newTask();
  ecsSays(task, { lastStatus: 'RUNNING', desiredStatus: 'RUNNING', version: 3 });
  await track(event(task, 'RUNNING', 'STOPPED', 4));
  expect(await scheduledRun()).toBe(0);
  expect(await item(task)).toEqual(expect.objectContaining({ status: 'DRAINING', version: '4' }));
  expect(r53.records.get(task.hostname)).toBe(task.publicIp);

  await track(event(task, 'STOPPED', 'STOPPED', 5));
  expect(r53.records.has(task.hostname)).toBe(false);
  expect(await scheduledRun()).toBe(0);
  expect(await item(task)).toEqual(expect.objectContaining({ status: 'STOPPED', version: '5' }));
  expect(r53.records.has(task.hostname)).toBe(false);
});

test('an event newer than a reconcile-made tombstone still wins', async () => {
  const task = newTask();
  await track(event(task, 'RUNNING', 'RUNNING', 3));
  expect(await scheduledRun()).toBe(2);
  expect((await item(task))?.status).toBe('STOPPED');

  await track(event(task, 'RUNNING', 'RUNNING', 3));
  expect((await item(task))?.status).toBe('STOPPED');
  await track(event(task, 'RUNNING', 'STOPPED', 4));
  expect(await item(task)).toEqual(expect.objectContaining({ status: 'DRAINING', version: '4', publicIp: task.publicIp }));
});

test('(e) DNS follows the registry: a missing record is created, a wrong one fixed, one of no live task deleted', async () => {
  const [missing, wrong] = [newTask(), newTask()];
  await track(event(missing, 'RUNNING', 'RUNNING', 3));
  await track(event(wrong, 'RUNNING', 'RUNNING', 3));
  ecsSays(missing, { lastStatus: 'RUNNING', desiredStatus: 'RUNNING', version: 3 });
  ecsSays(wrong, { lastStatus: 'RUNNING', desiredStatus: 'RUNNING', version: 3 });
  r53.records.delete(missing.hostname);
  r53.records.set(wrong.hostname, '198.51.100.99');
  const orphan = `${'f'.repeat(32)}.${DOMAIN}`;
  r53.records.set(orphan, '198.51.100.7');
  const notOurs = `www.${DOMAIN}`;
  r53.records.set(notOurs, '198.51.100.8');

  expect(await scheduledRun()).toBe(3);
  expect(r53.records.get(missing.hostname)).toBe(missing.publicIp);
  expect(r53.records.get(wrong.hostname)).toBe(wrong.publicIp);
  expect(r53.records.has(orphan)).toBe(false);
  expect(r53.records.get(notOurs)).toBe('198.51.100.8');
});

test('items of another relay in the same table are left alone; items of this relay\'s replaced service are closed', async () => {
  const [other, replaced] = [newTask(), newTask()];
  await putRegistryItem(client, process.env.TABLE_NAME!, {
    taskArn: other.taskArn, status: 'RUNNING', clusterArn: CLUSTER, group: 'service:OtherStack-Relay_99999999', updatedAt: AN_HOUR_AGO,
  });
  await putRegistryItem(client, process.env.TABLE_NAME!, {
    taskArn: replaced.taskArn, status: 'RUNNING', clusterArn: CLUSTER, group: `${GROUP_PREFIX}ffffffff`, updatedAt: AN_HOUR_AGO,
  });
  expect(await scheduledRun()).toBe(1);
  expect((await item(other))?.status).toBe('RUNNING');
  expect((await item(replaced))?.status).toBe('STOPPED');
});

test('on delete, the teardown closes every item of the deleted service and removes every task record', async () => {
  const [a, b] = [newTask(), newTask()];
  await track(event(a, 'RUNNING', 'RUNNING', 3));
  await track(event(b, 'RUNNING', 'STOPPED', 4));
  ecs.services.delete(SERVICE);

  // Created and updated with the stack: nothing to do; deleted: the registry is closed.
  await expect(reconcile(customResource('Teardown', 'Create'))).resolves.toEqual({ PhysicalResourceId: 'registry-Teardown' });
  await expect(reconcile(customResource('Teardown', 'Update'))).resolves.toEqual({ PhysicalResourceId: 'registry-Teardown' });
  expect(r53.records.size).toBe(2);
  await reconcile(customResource('Teardown', 'Delete'));
  expect((await item(a))?.status).toBe('STOPPED');
  expect((await item(b))?.status).toBe('STOPPED');
  expect(r53.records.size).toBe(0);
});

test('after a deploy the reconcile runs; a failing one does not fail the deploy, a failing teardown fails the delete', async () => {
  const task = newTask();
  ecsSays(task, { lastStatus: 'RUNNING', desiredStatus: 'RUNNING', version: 2 });
  await expect(reconcile(customResource('AfterDeploy', 'Create'))).resolves.toEqual({ PhysicalResourceId: 'registry-AfterDeploy' });
  expect((await item(task))?.status).toBe('RUNNING');
  await expect(reconcile(customResource('AfterDeploy', 'Delete'))).resolves.toEqual({ PhysicalResourceId: 'registry-AfterDeploy' });
  expect((await item(task))?.status).toBe('RUNNING');

  process.env.TABLE_NAME = 'no-such-table';
  await expect(reconcile(customResource('AfterDeploy', 'Update'))).resolves.toEqual({ PhysicalResourceId: 'registry-AfterDeploy' });
  expect(logs.lines().map(l => l.msg)).toContain('reconcile after deploy failed; the scheduled reconcile will repair the registry');
  await expect(reconcile(customResource('Teardown', 'Delete'))).rejects.toThrow(/Requested resource not found/);
});
