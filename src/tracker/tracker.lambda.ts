// The task tracker (docs/registry.md): ECS task state change (EventBridge) → one item per task in DynamoDB.
import { ConditionalCheckFailedException, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeNetworkInterfacesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { Route53Client } from '@aws-sdk/client-route-53';
import type { EventBridgeEvent } from 'aws-lambda';
import { deleteRecord, DnsConfig, dnsConfigFromEnv, taskHostname, upsertRecord } from './dns-records';
import { log } from './log';
import { parseTaskEvent, TaskState, toItem } from './task-event';
import { PARTITION_KEY, unmarshalItem, VERSION_ATTRIBUTE } from '../registry/registry-item';

/** The event the rule delivers; its `detail` is validated at run time, so it is typed `unknown` here. */
export type EcsTaskStateChangeEvent = EventBridgeEvent<'ECS Task State Change', unknown>;

// Built once per execution environment with the default configuration chain: region, credentials and the
// standard AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_EC2 overrides all come from the environment.
const dynamodb = new DynamoDBClient({});
const ec2 = new EC2Client({});
const route53 = new Route53Client({});

const DEFAULT_PORT = 443;

function config(): { tableName: string; port: number } {
  const tableName = process.env.TABLE_NAME;
  if (!tableName) throw new Error('TABLE_NAME is not set');
  const rawPort = process.env.RELAY_PORT;
  const port = rawPort === undefined || rawPort === '' ? DEFAULT_PORT : Number(rawPort);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`RELAY_PORT is not a port number: ${rawPort}`);
  return { tableName, port };
}

function errorName(e: unknown): string {
  return e instanceof Error ? e.name : typeof e;
}

/** The ENI's public IP (and private IP, in case the event lacked it). A deleted ENI simply has none. */
async function describeEni(task: TaskState): Promise<{ publicIp?: string; privateIp?: string }> {
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
    log('error', 'DescribeNetworkInterfaces failed; the event will be retried', { taskArn: task.taskArn, networkInterfaceId: id, error: errorName(e) });
    throw e;
  }
}

export const handler = async (event: EcsTaskStateChangeEvent): Promise<void> => {
  const parsed = parseTaskEvent(event, new Date());
  if (parsed.kind === 'malformed') {
    // Dropped, not thrown: a retry cannot fix a malformed event.
    log('warn', `dropping malformed ECS task state change event: ${parsed.reason}`, { taskArn: parsed.taskArn });
    return;
  }
  if (parsed.kind === 'ignored') {
    const { taskArn, lastStatus, desiredStatus, version } = parsed;
    log('debug', 'task status not tracked; nothing written', { taskArn, lastStatus, desiredStatus, version });
    return;
  }

  const task = parsed.task;
  const { tableName, port } = config();
  const dns = dnsConfigFromEnv(process.env);
  const eni = task.status === 'STOPPED' ? {} : await describeEni(task);
  const hostname = dns && eni.publicIp ? taskHostname(task.taskArn, dns.domain) : undefined;
  const item = toItem({ ...task, privateIp: task.privateIp ?? eni.privateIp }, { port, publicIp: eni.publicIp, hostname });
  const fields = { taskArn: task.taskArn, status: task.status, version: task.version };
  let written: boolean;
  try {
    await dynamodb.send(new PutItemCommand({
      TableName: tableName,
      Item: item,
      // Newer versions only: replays (equal version) and stale events (lower version) change nothing.
      ConditionExpression: 'attribute_not_exists(#key) OR #version < :version',
      ExpressionAttributeNames: { '#key': PARTITION_KEY, '#version': VERSION_ATTRIBUTE },
      ExpressionAttributeValues: { ':version': { N: String(task.version) } },
    }));
    written = true;
  } catch (e) {
    if (!(e instanceof ConditionalCheckFailedException || errorName(e) === 'ConditionalCheckFailedException')) {
      log('error', 'registry write failed; the event will be retried', { ...fields, error: errorName(e) });
      throw e;
    }
    written = false;
  }
  if (written) log('info', 'task recorded', { ...fields, publicIp: eni.publicIp });

  if (dns) {
    await syncDns(dns, task, tableName, written, eni.publicIp);
  } else if (!written) {
    log('info', 'stale or duplicate event: the registry already holds this version or a newer one', fields);
  }
};

/** The version and status the registry holds for a task now (consistent read). */
async function currentState(tableName: string, taskArn: string): Promise<{ version: number; status?: string } | undefined> {
  const out = await dynamodb.send(new GetItemCommand({
    TableName: tableName,
    Key: { [PARTITION_KEY]: { S: taskArn } },
    ConsistentRead: true,
  }));
  const item = out.Item && unmarshalItem(out.Item);
  return item ? { version: item.version, status: item.status } : undefined;
}

/**
 * Brings the task's DNS record in line with the event, ordered by version like the table: only the
 * event the registry holds as newest may change the record. A replay of that event applies its change
 * again (Route 53 may have failed after the table write), which is harmless since each change is
 * idempotent; and a record added while a newer STOPPED event was being handled is taken back.
 */
async function syncDns(dns: DnsConfig, task: TaskState, tableName: string, written: boolean, publicIp?: string): Promise<void> {
  const fields = { taskArn: task.taskArn, status: task.status, version: task.version };
  if (!written) {
    const current = await currentState(tableName, task.taskArn);
    if (current?.version !== task.version) {
      log('info', 'stale event: the registry holds a newer version; DNS left to that event', fields);
      return;
    }
    log('info', 'duplicate event: applying its DNS change again', fields);
  }
  const name = taskHostname(task.taskArn, dns.domain);
  try {
    if (task.status === 'STOPPED') {
      const deleted = await deleteRecord(route53, dns, name);
      log('info', deleted ? 'DNS record deleted' : 'no DNS record to delete', { ...fields, hostname: name });
      return;
    }
    if (publicIp === undefined) return;
    await upsertRecord(route53, dns, name, publicIp);
    log('info', 'DNS record upserted', { ...fields, hostname: name, publicIp });
    const after = await currentState(tableName, task.taskArn);
    if (after?.status === 'STOPPED') {
      await deleteRecord(route53, dns, name);
      log('info', 'task stopped meanwhile: DNS record deleted again', { ...fields, hostname: name });
    }
  } catch (e) {
    log('error', 'DNS change failed; the event will be retried', { ...fields, hostname: name, error: errorName(e) });
    throw e;
  }
}
