import { Duration } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { EndpointsFunction } from './endpoints/endpoints-function';
import { EndpointsApiOptions } from './endpoints-api-options';
import { functionRoleWithLogs } from './function-role';
import { SHARED_ANSWER_KEY } from './registry/registry-item';

/** Properties of an {@link EndpointsApi}. */
export interface EndpointsApiProps extends EndpointsApiOptions {
  /** The registry table (docs/registry.md) to read. */
  readonly table: dynamodb.ITable;
  /** Retention of the function's log group. */
  readonly logRetention: logs.RetentionDays;
}

/**
 * A Lambda function URL returning the live relays as JSON, least-loaded first, so a broadcaster
 * page can pick a relay (what the original sample's front end fetched from API Gateway).
 * It is public by design: it lists addresses that are public anyway, and streaming still needs a token.
 */
export class EndpointsApi extends Construct {
  /** The function behind the URL. */
  public readonly function: lambda.Function;
  /** The HTTPS URL of the API. */
  public readonly url: string;

  constructor(scope: Construct, id: string, props: EndpointsApiProps) {
    super(scope, id);
    const { role, logGroup } = functionRoleWithLogs(this, 'Endpoints API: reads the relay registry table', props.logRetention);
    props.table.grant(role, 'dynamodb:Scan');
    // The answer its instances share: that one item, by its key, and nothing else of the table.
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem'],
      resources: [props.table.tableArn],
      conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [SHARED_ANSWER_KEY] } },
    }));
    props.table.encryptionKey?.grantEncryptDecrypt(role);

    this.function = new EndpointsFunction(this, 'Function', {
      role,
      logGroup,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(10),
      description: 'Lists live relays, least-loaded first',
      environment: { TABLE_NAME: props.table.tableName },
      reservedConcurrentExecutions: props.reservedConcurrency,
    });
    const functionUrl = this.function.addFunctionUrl({
      authType: lambda.FunctionUrlAuthType.NONE,
      cors: {
        allowedOrigins: props.allowedOrigins,
        allowedMethods: [lambda.HttpMethod.GET],
        maxAge: Duration.minutes(10),
      },
    });
    this.url = functionUrl.url;
  }
}
