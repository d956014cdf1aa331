// The deployable integration test: the relay with its defaults, and @aws-cdk/integ-tests-alpha
// assertions that run in AWS once it is up. `npx projen integ:deploy` deploys it with your AWS
// credentials (a failed assertion fails the deploy) and destroys it; `npx projen test` checks its
// templates (test/integ.test.ts). See README, "Integration test".
import { ExpectedResult, IntegTest, Match } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { TranswrapRelay } from '../src';
import { LIVE_RELAYS_FILTER } from '../src/registry/registry-item';

export const app = new App();
export const stack = new Stack(app, 'TranswrapRelayInteg');
// The defaults, except that the test's registry table goes with the stack.
const relay = new TranswrapRelay(stack, 'Relay', { tableRemovalPolicy: RemovalPolicy.DESTROY });

/** The live relays, as the CLI and the endpoints API read them (docs/registry.md#live-relays). */
const LIVE_RELAYS = { TableName: relay.table.tableName, ConsistentRead: true, ...LIVE_RELAYS_FILTER };

// Asks one live relay's /healthz from outside its VPC, as a browser would reach it. Relays reached by
// IP present a per-task self-signed certificate, so this probe (reading a public document) skips the check.
const healthProbe = new lambda.Function(stack, 'HealthProbe', {
  // The runtime of the construct's own functions.
  runtime: lambda.Runtime.NODEJS_24_X,
  handler: 'index.handler',
  timeout: Duration.seconds(30),
  environment: { LIVE_RELAYS: stack.toJsonString(LIVE_RELAYS) },
  code: lambda.Code.fromInline(`
const { DynamoDBClient, ScanCommand } = require('@aws-sdk/client-dynamodb');
const https = require('https');
exports.handler = async () => {
  const { Items = [] } = await new DynamoDBClient({}).send(new ScanCommand(JSON.parse(process.env.LIVE_RELAYS)));
  if (Items.length === 0) return { statusCode: 0, reason: 'no live relay in the registry' };
  const { publicIp, port } = Items[0];
  return new Promise((resolve) => {
    https.get({ host: publicIp.S, port: Number(port.N), path: '/healthz', rejectUnauthorized: false, timeout: 5000 }, (res) => {
      res.resume();
      resolve({ statusCode: res.statusCode });
    }).on('error', (e) => resolve({ statusCode: 0, reason: String(e) }));
  });
};`),
});
relay.table.grantReadData(healthProbe);

/** Holds the assertions: custom resources that call AWS, retried until they hold or time out. */
export const assertionStack = new Stack(app, 'TranswrapRelayIntegAssertions');
const integ = new IntegTest(app, 'TranswrapRelayIntegTest', { testCases: [stack], assertionStack });

// The registry holds one RUNNING item with a public IP per task (desiredCount defaults to 2) as soon as the relay's
// stack is deployed: the tracker's rule existed before the first task started, and the reconciler ran after the
// service was created (docs/registry.md#order). Two minutes leave room for one scheduled reconcile, no more.
const registered = integ.assertions
  .awsApiCall('DynamoDB', 'scan', { ...LIVE_RELAYS, Select: 'COUNT' })
  .expect(ExpectedResult.objectLike({ Count: 2 }))
  .waitForAssertions({ totalTimeout: Duration.minutes(2), interval: Duration.seconds(20) });

// …and a relay at one of those addresses answers its health check.
const healthy = integ.assertions
  .invokeFunction({ functionName: healthProbe.functionName })
  .expect(ExpectedResult.objectLike({ Payload: Match.serializedJson({ statusCode: 200 }) }))
  .waitForAssertions({ totalTimeout: Duration.minutes(5), interval: Duration.seconds(20) });

registered.next(healthy);

app.synth();
