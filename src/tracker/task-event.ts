// Parse, validate and map an "ECS Task State Change" event to its registry item (docs/registry.md).
// Pure: no AWS calls, no clock except the `now` passed in, so it is unit-testable and safe for jsii to compile.
import { ItemValue, marshalItem, TaskStatus } from '../registry/registry-item';

export type { TaskStatus } from '../registry/registry-item';

/** Seconds a STOPPED tombstone is kept before the table's TTL may remove it. */
export const TOMBSTONE_TTL_SECONDS = 86_400;

/** What the tracker needs from one event, validated and normalised (timestamps as ISO strings). */
export interface TaskState {
  readonly taskArn: string;
  readonly clusterArn: string;
  readonly status: TaskStatus;
  /** `detail.version`: increases with every state change of the task. */
  readonly version: number;
  readonly group?: string;
  readonly availabilityZone?: string;
  readonly startedAt?: string;
  readonly updatedAt: string;
  readonly stoppedAt?: string;
  readonly networkInterfaceId?: string;
  readonly privateIp?: string;
}

export type ParsedTaskEvent =
  | { readonly kind: 'malformed'; readonly reason: string; readonly taskArn?: string }
  | {
    readonly kind: 'ignored';
    readonly taskArn: string;
    readonly lastStatus: string;
    readonly desiredStatus: string;
    readonly version: number;
  }
  | { readonly kind: 'task'; readonly task: TaskState };

export const DETAIL_TYPE = 'ECS Task State Change';

/**
 * docs/registry.md#status: RUNNING/RUNNING → RUNNING, RUNNING/STOPPED → DRAINING, lastStatus STOPPED → STOPPED.
 * Every other combination (PROVISIONING, PENDING, ACTIVATING, DEACTIVATING, STOPPING, DEPROVISIONING, …) → undefined.
 */
export function mapStatus(lastStatus: string, desiredStatus: string): TaskStatus | undefined {
  if (lastStatus === 'STOPPED') return 'STOPPED';
  if (lastStatus === 'RUNNING' && desiredStatus === 'RUNNING') return 'RUNNING';
  if (lastStatus === 'RUNNING' && desiredStatus === 'STOPPED') return 'DRAINING';
  return undefined;
}

class Malformed extends Error {}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function requiredString(detail: Record<string, unknown>, key: string): string {
  const value = detail[key];
  if (typeof value !== 'string' || value.length === 0) {
    throw new Malformed(`detail.${key} is ${value === undefined ? 'missing' : 'not a non-empty string'}`);
  }
  return value;
}

function optionalString(detail: Record<string, unknown>, key: string): string | undefined {
  const value = detail[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new Malformed(`detail.${key} is not a string`);
  return value;
}

function optionalTimestamp(detail: Record<string, unknown>, key: string): string | undefined {
  const value = optionalString(detail, key);
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new Malformed(`detail.${key} is not an ISO 8601 timestamp`);
  return new Date(ms).toISOString();
}

/** The task's ENI: the attachment of type `eni`, its details looked up by name (their order is not guaranteed). */
function findEni(detail: Record<string, unknown>): { networkInterfaceId?: string; privateIp?: string } {
  const attachments = detail.attachments;
  if (attachments === undefined || attachments === null) return {};
  if (!Array.isArray(attachments)) throw new Malformed('detail.attachments is not an array');
  for (const attachment of attachments) {
    if (!isRecord(attachment) || attachment.type !== 'eni') continue;
    if (!Array.isArray(attachment.details)) throw new Malformed('detail.attachments[type=eni].details is not an array');
    const named = (name: string): string | undefined => {
      const entry = (attachment.details as unknown[]).find((d) => isRecord(d) && d.name === name);
      return isRecord(entry) && typeof entry.value === 'string' && entry.value.length > 0 ? entry.value : undefined;
    };
    return { networkInterfaceId: named('networkInterfaceId'), privateIp: named('privateIPv4Address') };
  }
  return {};
}

/** Validates an EventBridge event and maps it to the state the registry should record, if any. */
export function parseTaskEvent(event: unknown, now: Date): ParsedTaskEvent {
  if (!isRecord(event)) return { kind: 'malformed', reason: 'event is not an object' };
  const detail = event.detail;
  const taskArn = isRecord(detail) && typeof detail.taskArn === 'string' && detail.taskArn.length > 0 ? detail.taskArn : undefined;
  try {
    if (event['detail-type'] !== DETAIL_TYPE) {
      throw new Malformed(`detail-type is ${JSON.stringify(event['detail-type'] ?? null)}, expected "${DETAIL_TYPE}"`);
    }
    if (!isRecord(detail)) throw new Malformed(`detail is ${detail === undefined ? 'missing' : 'not an object'}`);
    const arn = requiredString(detail, 'taskArn');
    const clusterArn = requiredString(detail, 'clusterArn');
    const lastStatus = requiredString(detail, 'lastStatus');
    const desiredStatus = requiredString(detail, 'desiredStatus');
    const version = detail.version;
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
      throw new Malformed(`detail.version is ${version === undefined ? 'missing' : `not a non-negative integer (${JSON.stringify(version)})`}`);
    }
    const status = mapStatus(lastStatus, desiredStatus);
    if (status === undefined) {
      return { kind: 'ignored', taskArn: arn, lastStatus, desiredStatus, version };
    }
    return {
      kind: 'task',
      task: {
        taskArn: arn,
        clusterArn,
        status,
        version,
        group: optionalString(detail, 'group'),
        availabilityZone: optionalString(detail, 'availabilityZone'),
        startedAt: optionalTimestamp(detail, 'startedAt'),
        updatedAt: optionalTimestamp(detail, 'updatedAt') ?? now.toISOString(),
        stoppedAt: optionalTimestamp(detail, 'stoppedAt'),
        ...findEni(detail),
      },
    };
  } catch (e) {
    if (e instanceof Malformed) return { kind: 'malformed', reason: e.message, taskArn };
    throw e;
  }
}

/** Epoch seconds (not milliseconds) at which a STOPPED tombstone expires: stop time + one day. */
export function tombstoneExpiry(task: TaskState): number {
  const stoppedMs = Date.parse(task.stoppedAt ?? task.updatedAt);
  return Math.floor(stoppedMs / 1000) + TOMBSTONE_TTL_SECONDS;
}

/**
 * The registry item for a task state: the whole item is replaced, so it always describes exactly one event
 * (a STOPPED tombstone carries no `publicIp`: the address is released and may belong to someone else).
 */
export function toItem(
  task: TaskState,
  opts: { readonly port: number; readonly publicIp?: string; readonly hostname?: string },
): Record<string, ItemValue> {
  const stopped = task.status === 'STOPPED';
  return marshalItem({
    taskArn: task.taskArn,
    clusterArn: task.clusterArn,
    status: task.status,
    port: opts.port,
    updatedAt: task.updatedAt,
    version: task.version,
    group: task.group,
    availabilityZone: task.availabilityZone,
    startedAt: task.startedAt,
    privateIp: task.privateIp,
    publicIp: stopped ? undefined : opts.publicIp,
    hostname: stopped ? undefined : opts.hostname,
    expiresAt: stopped ? tombstoneExpiry(task) : undefined,
  });
}
