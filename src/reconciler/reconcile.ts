// The reconciler (docs/registry.md#reconciler): brings the registry and the task records in line with the
// tasks ECS lists, through the same version-ordered writes as the event path, and counts every repair.
import { DynamoDBClient, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { ECSClient } from '@aws-sdk/client-ecs';
import { listServiceTasks, ServiceRef, taskStateOf } from './service-tasks';
import { PARTITION_KEY, RegistryItem, unmarshalItem, VERSION_ATTRIBUTE } from '../registry/registry-item';
import { DnsConfig, deleteRecord, listTaskRecords } from '../tracker/dns-records';
import { log } from '../tracker/log';
import {
  errorName, RegistryClients, RegistryConfig, taskAddresses, upsertUnlessStopped, writeTaskItem,
} from '../tracker/record-task';
import { toItem } from '../tracker/task-event';

/**
 * `scheduled` and `deploy` heal; `teardown` runs once the service and the tracker are deleted, and also
 * closes what no task holds any more: items become tombstones and every task record goes.
 */
export type ReconcileMode = 'scheduled' | 'deploy' | 'teardown';

/** The relay service: its tasks (ECS) and its items (the group prefix matches its names before and after a replacement). */
export interface ReconcileTarget extends ServiceRef {
  /** Every `group` this relay's tasks ever had starts with it (`service:<stack>-<path>_`). */
  readonly groupPrefix: string;
}

/** The clients of the event path, and ECS. */
export interface ReconcilerClients extends RegistryClients {
  readonly ecs: ECSClient;
}

/**
 * How long an item may be missing from ECS's list before it is closed. ListTasks is eventually consistent:
 * a task that has just started can be recorded by its event before ECS lists it.
 */
export const UNLISTED_GRACE_MS = 120_000;

/** Runs one reconcile; returns the number of repairs (items written, items closed, records changed). */
export async function reconcile(
  clients: ReconcilerClients, config: RegistryConfig, target: ReconcileTarget, mode: ReconcileMode, now = new Date(),
): Promise<number> {
  // Records first, registry last: a record is only ever created after its item, so an item read after the
  // records can always explain each of them (see deleteUnexplainedRecords).
  const records = config.dns && await listTaskRecords(clients.route53, config.dns);
  let repairs = 0;

  const listed = new Set<string>();
  for (const task of await listServiceTasks(clients.ecs, target)) {
    const state = taskStateOf(task, now);
    if (task.taskArn) listed.add(task.taskArn);
    if (state === undefined) continue;
    if (await writeTaskItem(clients.dynamodb, config, state, await taskAddresses(clients.ec2, state))) {
      repairs += 1;
      log('warn', 'registry repaired: task recorded', { taskArn: state.taskArn, status: state.status, version: state.version, mode });
    }
  }

  for (const item of await serviceItems(clients.dynamodb, config.tableName, target)) {
    const unlistedFor = now.getTime() - Date.parse(item.updatedAt);
    if (item.status === 'STOPPED' || listed.has(item.taskArn)) continue;
    if (mode !== 'teardown' && unlistedFor < UNLISTED_GRACE_MS) continue;
    if (await closeItem(clients.dynamodb, config, item, now)) {
      repairs += 1;
      log('warn', 'registry repaired: task no longer listed by ECS, recorded as stopped', { taskArn: item.taskArn, status: item.status, version: item.version, mode });
    }
  }

  if (config.dns && records) {
    repairs += await reconcileRecords(clients, { ...config, dns: config.dns }, target, records, mode);
  }
  return repairs;
}

/** The relay's items, read consistently (the endpoints API's answer and other relays' tasks are left out). */
async function serviceItems(dynamodb: DynamoDBClient, tableName: string, target: ReconcileTarget): Promise<RegistryItem[]> {
  const items: RegistryItem[] = [];
  let start: Record<string, any> | undefined;
  do {
    const page = await dynamodb.send(new ScanCommand({
      TableName: tableName,
      ConsistentRead: true,
      FilterExpression: '#cluster = :cluster AND begins_with(#group, :group)',
      ExpressionAttributeNames: { '#cluster': 'clusterArn', '#group': 'group' },
      ExpressionAttributeValues: { ':cluster': { S: target.clusterArn }, ':group': { S: target.groupPrefix } },
      ExclusiveStartKey: start,
    }));
    for (const raw of page.Items ?? []) {
      const item = unmarshalItem(raw);
      if (item) items.push(item);
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/**
 * Turns the item of a task ECS no longer lists into a tombstone, keeping its version: the item changes only if
 * nothing wrote it since it was read, and any later event about the task (a higher version) still wins.
 */
async function closeItem(dynamodb: DynamoDBClient, config: RegistryConfig, item: RegistryItem, now: Date): Promise<boolean> {
  const tombstone = toItem({
    taskArn: item.taskArn,
    clusterArn: item.clusterArn,
    status: 'STOPPED',
    version: item.version,
    group: item.group,
    availabilityZone: item.availabilityZone,
    startedAt: item.startedAt,
    updatedAt: now.toISOString(),
    privateIp: item.privateIp,
  }, { port: item.port });
  try {
    await dynamodb.send(new PutItemCommand({
      TableName: config.tableName,
      Item: tombstone,
      ConditionExpression: 'attribute_exists(#key) AND #version = :version AND #status = :status',
      ExpressionAttributeNames: { '#key': PARTITION_KEY, '#version': VERSION_ATTRIBUTE, '#status': 'status' },
      ExpressionAttributeValues: { ':version': { N: String(item.version) }, ':status': { S: item.status } },
    }));
    return true;
  } catch (e) {
    if (errorName(e) === 'ConditionalCheckFailedException') return false;
    throw e;
  }
}

/**
 * Makes the task records say what the registry says: a record for each live item with an address (RUNNING or
 * DRAINING; on teardown only RUNNING, since the service is gone), none for anything else.
 */
async function reconcileRecords(
  clients: ReconcilerClients, config: RegistryConfig & { dns: DnsConfig }, target: ReconcileTarget,
  records: Map<string, string>, mode: ReconcileMode,
): Promise<number> {
  const wanted = new Map<string, RegistryItem & { hostname: string; publicIp: string }>();
  for (const item of await serviceItems(clients.dynamodb, config.tableName, target)) {
    const live = item.status === 'RUNNING' || (item.status === 'DRAINING' && mode !== 'teardown');
    if (live && item.hostname && item.publicIp) wanted.set(item.hostname, { ...item, hostname: item.hostname, publicIp: item.publicIp });
  }
  let repairs = 0;
  for (const [name, item] of wanted) {
    if (records.get(name) === item.publicIp) continue;
    await upsertUnlessStopped(clients, config, item.taskArn, name, item.publicIp);
    repairs += 1;
    log('warn', 'registry repaired: DNS record upserted', { taskArn: item.taskArn, hostname: name, publicIp: item.publicIp, mode });
  }
  for (const name of records.keys()) {
    if (wanted.has(name)) continue;
    if (await deleteRecord(clients.route53, config.dns, name)) {
      repairs += 1;
      log('warn', 'registry repaired: DNS record of no live task deleted', { hostname: name, mode });
    }
  }
  return repairs;
}
