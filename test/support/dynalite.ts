// dynalite: a real DynamoDB implementation on loopback, reached through the real @aws-sdk/client-dynamodb.
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { close, listen } from './loopback-server';
import { marshalItem, PARTITION_KEY, RegistryItem } from '../../src/registry/registry-item';

export interface Dynalite {
  readonly endpoint: string;
  close(): Promise<void>;
}

export async function startDynalite(): Promise<Dynalite> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const endpoint = await listen(server);
  return { endpoint, close: () => close(server) };
}

/** Creates the registry table (its partition key, S) and waits until it is ACTIVE. */
export async function createRegistryTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(new CreateTableCommand({
    TableName: tableName,
    AttributeDefinitions: [{ AttributeName: PARTITION_KEY, AttributeType: 'S' }],
    KeySchema: [{ AttributeName: PARTITION_KEY, KeyType: 'HASH' }],
    BillingMode: 'PAY_PER_REQUEST',
  }));
  for (let i = 0; i < 100; i++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`table ${tableName} did not become ACTIVE`);
}

/** Writes a registry item as the tracker would; fields a test does not care about get plausible values. */
export async function putRegistryItem(
  client: DynamoDBClient, tableName: string, fields: Partial<RegistryItem> & Pick<RegistryItem, 'taskArn' | 'status'>,
): Promise<void> {
  const item: RegistryItem = {
    clusterArn: 'arn:aws:ecs:us-west-2:111122223333:cluster/Relays',
    port: 443,
    updatedAt: '2026-11-28T10:00:00.000Z',
    version: 1,
    ...fields,
  };
  await client.send(new PutItemCommand({ TableName: tableName, Item: marshalItem(item) }));
}
