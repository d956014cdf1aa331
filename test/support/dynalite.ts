// dynalite: a real DynamoDB implementation on loopback, reached through the real @aws-sdk/client-dynamodb.
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { close, listen } from './loopback-server';

export interface Dynalite {
  readonly endpoint: string;
  close(): Promise<void>;
}

export async function startDynalite(): Promise<Dynalite> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const endpoint = await listen(server);
  return { endpoint, close: () => close(server) };
}

/** Creates the registry table (partition key `taskArn`, S) and waits until it is ACTIVE. */
export async function createRegistryTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(new CreateTableCommand({
    TableName: tableName,
    AttributeDefinitions: [{ AttributeName: 'taskArn', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'taskArn', KeyType: 'HASH' }],
    BillingMode: 'PAY_PER_REQUEST',
  }));
  for (let i = 0; i < 100; i++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`table ${tableName} did not become ACTIVE`);
}
