// One task state into the registry and its DNS record (docs/registry.md): the write both the event path
// (tracker.lambda.ts) and the reconciler make, so the two can never disagree on what a task's item is.
import { ConditionalCheckFailedException, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeNetworkInterfacesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { Route53Client } from '@aws-sdk/client-route-53';
import { deleteRecord, DnsConfig, dnsConfigFromEnv, taskHostname, upsertRecord } from './dns-records';
import { log } from './log';
import { TaskState, toItem } from './task-event';
import { PARTITION_KEY, unmarshalItem, VERSION_ATTRIBUTE } from '../registry/registry-item';

/** The AWS clients the writes go through. */
export interface RegistryClients {
  readonly dynamodb: DynamoDBClient;
  readonly ec2: EC2Client;
  readonly route53: Route53Client;
}

/** Where the writes go: from the environment the construct sets (docs/registry.md#tracker-environment). */
export interface RegistryConfig {
  readonly tableName: string;
  readonly port: number;
  readonly dns?: DnsConfig;
}

/** The task's network interface addresses, as EC2 reports them. */
export interface EniAddresses {
  readonly publicIp?: string;
  readonly privateIp?: string;
}

const DEFAULT_PORT = 443;

/** The registry settings; throws on a missing table or a port that is not one. */
export function registryConfigFromEnv(env: NodeJS.ProcessEnv): RegistryConfig {
  const tableName = env.TABLE_NAME;
  if (!tableName) throw new Error('TABLE_NAME is not set');
  const rawPort = env.RELAY_PORT;
  const port = rawPort === undefined || rawPort === '' ? DEFAULT_PORT : Number(rawPort);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`RELAY_PORT is not a port number: ${rawPort}`);
  return { tableName, port, dns: dnsConfigFromEnv(env) };
}

export function errorName(e: unknown): string {
  return e instanceof Error ? e.name : typeof e;
}

/** The ENI's public IP (and private IP, in case the task state lacked it). A deleted ENI simply has none. */
export async function describeEni(ec2: EC2Client, task: TaskState): Promise<EniAddresses> {
  const id = task.networkInterfaceId;
  if (id === undefined) {
    log('info', 'event has no ENI attachment; recording the task without a public IP', { taskArn: task.taskArn, status: task.status, version: task.version });
    return {};
  }
  try {
    const out = await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [id] }));
    const eni = out.NetworkInterfaces?.find((n) => n.NetworkInterfaceId === id);
    return { publicIp: eni?.Association?.PublicIp, privateIp: eni?.PrivateIpAddress };
  } catch (e) {
    if (errorName(e) === 'InvalidNetworkInterfaceID.NotFound') {
      log('info', 'ENI no longer exists; recording the task without a public IP', { taskArn: task.taskArn, networkInterfaceId: id });
      return {};
    }
    log('error', 'DescribeNetworkInterfaces failed; retried by the next delivery of the event or the next reconcile', { taskArn: task.taskArn, networkInterfaceId: id, error: errorName(e) });
    throw e;
  }
}

/** The task's addresses: none for a stopped task (its address is released), else what EC2 reports. */
export async function taskAddresses(ec2: EC2Client, task: TaskState): Promise<EniAddresses> {
  return task.status === 'STOPPED' ? {} : describeEni(ec2, task);
}

/**
 * Writes the task's item if it is newer than what the table holds (docs/registry.md#ordering-and-replays).
 * @returns whether the item was written; false for a replay or a stale state
 */
export async function writeTaskItem(dynamodb: DynamoDBClient, config: RegistryConfig, task: TaskState, eni: EniAddresses): Promise<boolean> {
  const hostname = config.dns && eni.publicIp ? taskHostname(task.taskArn, config.dns.domain) : undefined;
  const item = toItem({ ...task, privateIp: task.privateIp ?? eni.privateIp }, { port: config.port, publicIp: eni.publicIp, hostname });
  try {
    await dynamodb.send(new PutItemCommand({
      TableName: config.tableName,
      Item: item,
      // Newer versions only: replays (equal version) and stale states (lower version) change nothing.
      ConditionExpression: 'attribute_not_exists(#key) OR #version < :version',
      ExpressionAttributeNames: { '#key': PARTITION_KEY, '#version': VERSION_ATTRIBUTE },
      ExpressionAttributeValues: { ':version': { N: String(task.version) } },
    }));
    return true;
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException || errorName(e) === 'ConditionalCheckFailedException') return false;
    log('error', 'registry write failed; retried by the next delivery of the event or the next reconcile', { taskArn: task.taskArn, status: task.status, version: task.version, error: errorName(e) });
    throw e;
  }
}

/** The version and status the registry holds for a task now (consistent read). */
export async function currentState(
  dynamodb: DynamoDBClient, tableName: string, taskArn: string,
): Promise<{ version: number; status?: string } | undefined> {
  const out = await dynamodb.send(new GetItemCommand({
    TableName: tableName,
    Key: { [PARTITION_KEY]: { S: taskArn } },
    ConsistentRead: true,
  }));
  const item = out.Item && unmarshalItem(out.Item);
  return item ? { version: item.version, status: item.status } : undefined;
}

/**
 * Points the task's name at its IP, then takes the record back if the task has meanwhile been recorded as
 * stopped (a STOPPED write whose own delete ran before this upsert would otherwise leave a dangling record).
 */
export async function upsertUnlessStopped(
  clients: RegistryClients, config: RegistryConfig & { dns: DnsConfig }, taskArn: string, name: string, publicIp: string,
): Promise<void> {
  await upsertRecord(clients.route53, config.dns, name, publicIp);
  log('info', 'DNS record upserted', { taskArn, hostname: name, publicIp });
  const after = await currentState(clients.dynamodb, config.tableName, taskArn);
  if (after?.status === 'STOPPED') {
    await deleteRecord(clients.route53, config.dns, name);
    log('info', 'task stopped meanwhile: DNS record deleted again', { taskArn, hostname: name });
  }
}

/**
 * Brings the task's DNS record in line with its state, ordered by version like the table: only the state
 * the registry holds as newest may change the record. A replay of that state applies its change again
 * (Route 53 may have failed after the table write), which is harmless since each change is idempotent.
 */
export async function syncDns(
  clients: RegistryClients, config: RegistryConfig & { dns: DnsConfig }, task: TaskState, written: boolean, publicIp?: string,
): Promise<void> {
  const fields = { taskArn: task.taskArn, status: task.status, version: task.version };
  if (!written) {
    const current = await currentState(clients.dynamodb, config.tableName, task.taskArn);
    if (current?.version !== task.version) {
      log('info', 'stale event: the registry holds a newer version; DNS left to that event', fields);
      return;
    }
    log('info', 'duplicate event: applying its DNS change again', fields);
  }
  const name = taskHostname(task.taskArn, config.dns.domain);
  try {
    if (task.status === 'STOPPED') {
      const deleted = await deleteRecord(clients.route53, config.dns, name);
      log('info', deleted ? 'DNS record deleted' : 'no DNS record to delete', { ...fields, hostname: name });
      return;
    }
    if (publicIp !== undefined) await upsertUnlessStopped(clients, config, task.taskArn, name, publicIp);
  } catch (e) {
    log('error', 'DNS change failed; retried by the next delivery of the event or the next reconcile', { ...fields, hostname: name, error: errorName(e) });
    throw e;
  }
}

/** Records one task state as the event path does: the item (newer versions only), then its DNS record. */
export async function recordTask(clients: RegistryClients, config: RegistryConfig, task: TaskState): Promise<boolean> {
  const eni = await taskAddresses(clients.ec2, task);
  const written = await writeTaskItem(clients.dynamodb, config, task, eni);
  const fields = { taskArn: task.taskArn, status: task.status, version: task.version };
  if (written) log('info', 'task recorded', { ...fields, publicIp: eni.publicIp });
  if (config.dns) {
    await syncDns(clients, { ...config, dns: config.dns }, task, written, eni.publicIp);
  } else if (!written) {
    log('info', 'stale or duplicate event: the registry already holds this version or a newer one', fields);
  }
  return written;
}
