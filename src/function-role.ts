import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/**
 * A Lambda function's own log group and a role that may write only to it: the role of every function the
 * construct creates, rather than AWSLambdaBasicExecutionRole (which writes to any log group). The caller
 * grants the rest.
 */
export function functionRoleWithLogs(
  scope: Construct, description: string, logRetention: logs.RetentionDays, idPrefix = '',
): { role: iam.Role; logGroup: logs.LogGroup } {
  const logGroup = new logs.LogGroup(scope, `${idPrefix}LogGroup`, { retention: logRetention });
  const role = new iam.Role(scope, `${idPrefix}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description });
  logGroup.grantWrite(role);
  return { role, logGroup };
}
