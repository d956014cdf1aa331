import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PARTITION_KEY, SHARED_ANSWER_KEY, TTL_ATTRIBUTE } from '../registry/registry-item';

/** An answer and when it was computed (epoch milliseconds). */
export interface Answer {
  readonly at: number;
  readonly body: string;
}

/** The answer another instance of the function stored, if any. */
export async function readSharedAnswer(client: DynamoDBClient, table: string): Promise<Answer | undefined> {
  const out = await client.send(new GetItemCommand({
    TableName: table,
    Key: { [PARTITION_KEY]: { S: SHARED_ANSWER_KEY } },
    ProjectionExpression: 'answeredAt, body',
  }));
  const at = out.Item?.answeredAt?.N;
  const body = out.Item?.body?.S;
  return at !== undefined && body !== undefined ? { at: Number(at), body } : undefined;
}

/** Stores an answer for every instance; the table's TTL removes it a day after the API was last asked. */
export async function writeSharedAnswer(client: DynamoDBClient, table: string, answer: Answer): Promise<void> {
  await client.send(new PutItemCommand({
    TableName: table,
    Item: {
      [PARTITION_KEY]: { S: SHARED_ANSWER_KEY },
      answeredAt: { N: String(answer.at) },
      body: { S: answer.body },
      [TTL_ATTRIBUTE]: { N: String(Math.floor(answer.at / 1000) + 86_400) },
    },
  }));
}
