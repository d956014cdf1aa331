// The task registry's item (docs/registry.md#item), defined once: the table definition, the tracker
// that writes items, and the CLI and endpoints API that read them all take names and types from here.

/** A task's registry status (docs/registry.md#status). */
export type TaskStatus = 'RUNNING' | 'DRAINING' | 'STOPPED';

/** One registry item: one relay task, as the tracker last recorded it. */
export interface RegistryItem {
  /** The partition key. */
  readonly taskArn: string;
  readonly clusterArn: string;
  readonly status: TaskStatus;
  /** The relay port browsers connect to. */
  readonly port: number;
  readonly updatedAt: string;
  /** The ECS event's `detail.version`: writes are ordered by it. */
  readonly version: number;
  readonly group?: string;
  readonly availabilityZone?: string;
  readonly startedAt?: string;
  readonly privateIp?: string;
  /** Absent on STOPPED tombstones: the address is released. */
  readonly publicIp?: string;
  /** The task's DNS name, when the construct manages DNS records. */
  readonly hostname?: string;
  /** Epoch seconds at which the table's TTL may remove a STOPPED tombstone. */
  readonly expiresAt?: number;
}

/** A DynamoDB attribute value of the two types the registry uses. */
export type ItemValue = { readonly S: string } | { readonly N: string };

/** The DynamoDB type of every attribute. */
const ATTRIBUTE_TYPES: { readonly [K in keyof RegistryItem]-?: 'S' | 'N' } = {
  taskArn: 'S',
  clusterArn: 'S',
  status: 'S',
  port: 'N',
  updatedAt: 'S',
  version: 'N',
  group: 'S',
  availabilityZone: 'S',
  startedAt: 'S',
  privateIp: 'S',
  publicIp: 'S',
  hostname: 'S',
  expiresAt: 'N',
};

/** The table's partition key (a string). */
export const PARTITION_KEY: keyof RegistryItem = 'taskArn';
/** The table's TTL attribute (epoch seconds). */
export const TTL_ATTRIBUTE: keyof RegistryItem = 'expiresAt';
/**
 * The partition key of the one item that is not a task: the endpoints API's last answer, shared by
 * its instances (docs/registry.md#the-endpoints-apis-answer). Not an ARN, so never a task's key, and
 * without `status` it never passes {@link LIVE_RELAYS_FILTER}.
 */
export const SHARED_ANSWER_KEY = 'endpoints-api#answer';
/** The attribute writes are ordered by. */
export const VERSION_ATTRIBUTE: keyof RegistryItem = 'version';

/** The item as DynamoDB attribute values; absent and empty values are left out. */
export function marshalItem(item: RegistryItem): Record<string, ItemValue> {
  const out: Record<string, ItemValue> = {};
  for (const [name, type] of Object.entries(ATTRIBUTE_TYPES) as [keyof RegistryItem, 'S' | 'N'][]) {
    const value = item[name];
    if (value === undefined || value === '') continue;
    out[name] = type === 'N' ? { N: String(value) } : { S: String(value) };
  }
  return out;
}

/**
 * The item from DynamoDB attribute values, or undefined when a required attribute is missing
 * (an item some other writer left in the table).
 */
export function unmarshalItem(values: Record<string, { S?: string; N?: string } | undefined>): RegistryItem | undefined {
  const item: Record<string, string | number> = {};
  for (const [name, type] of Object.entries(ATTRIBUTE_TYPES)) {
    const value = values[name];
    if (type === 'N' && value?.N !== undefined) item[name] = Number(value.N);
    if (type === 'S' && value?.S !== undefined) item[name] = value.S;
  }
  const required: (keyof RegistryItem)[] = ['taskArn', 'clusterArn', 'status', 'port', 'updatedAt', 'version'];
  return required.every(name => item[name] !== undefined) ? item as unknown as RegistryItem : undefined;
}

/**
 * The scan filter for live relays (docs/registry.md#live-relays): `status = RUNNING` with a
 * `publicIp`. The CLI, the endpoints API and the integration test use exactly this.
 */
export const LIVE_RELAYS_FILTER = {
  FilterExpression: '#status = :running AND attribute_exists(publicIp)',
  ExpressionAttributeNames: { '#status': 'status' },
  ExpressionAttributeValues: { ':running': { S: 'RUNNING' } },
};
