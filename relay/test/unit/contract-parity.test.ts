// The construct (src/, compiled by jsii) and the relay keep copies of a few rules; Bun loads both
// codebases, so these tests hold the copies together and fail when one side changes alone.
// The construct's side of the allow-list table is test/contract-parity.test.ts (jest).
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, test } from 'bun:test';
import { ALLOW_LIST_CASES } from '../../../harness/allow-list-cases.ts';
import { MIN_KEY_BYTES } from '../../../src/cli/token-command.ts';
import { RelayAuth, TranswrapRelay, type TranswrapRelayProps } from '../../../src/index.ts';
import * as constructPaths from '../../../src/relay-paths.ts';
import { HEALTH_PATH, STREAM_PATH } from '../../public/protocol.ts';
import { loadConfig, MIN_AUTH_SECRET_BYTES } from '../../src/config.ts';
import { parseAllowList } from '../../src/destination.ts';

// Stand-ins for the values ECS injects from Secrets Manager: only their shape is checked at start.
const SECRET_VALUES: Record<string, string> = {
  RELAY_AUTH_SECRET: 'a-64-character-token-key-as-the-construct-generates-it-0123456789',
  RELAY_TLS_CERT: '-----BEGIN CERTIFICATE-----\nstand-in\n-----END CERTIFICATE-----\n',
  RELAY_TLS_KEY: '-----BEGIN TEST KEY-----\nstand-in\n-----END TEST KEY-----\n',
};

/** The relay container's environment as ECS would start it: its variables plus its secrets' values. */
function containerEnvironment(props: (stack: Stack) => TranswrapRelayProps): { env: Record<string, string>; relay: TranswrapRelay } {
  const app = new App();
  const stack = new Stack(app, 'RelayStack', { env: { account: '111122223333', region: 'us-west-2' } });
  const relay = new TranswrapRelay(stack, 'Relay', props(stack));
  const [taskDefinition] = Object.values(Template.fromStack(stack).findResources('AWS::ECS::TaskDefinition'));
  const container = taskDefinition!.Properties.ContainerDefinitions[0];
  const env: Record<string, string> = {};
  for (const { Name, Value } of container.Environment as { Name: string; Value: unknown }[]) {
    if (typeof Value !== 'string') throw new Error(`${Name} is not a plain string in the template: ${JSON.stringify(Value)}`);
    env[Name] = Value;
  }
  for (const { Name } of (container.Secrets ?? []) as { Name: string }[]) {
    const value = SECRET_VALUES[Name];
    if (value === undefined) throw new Error(`no stand-in value for the secret ${Name}`);
    env[Name] = value;
  }
  return { env, relay };
}

describe('the relay protocol\'s paths', () => {
  test('the construct, CLI and endpoints use the paths the relay serves', () => {
    expect(constructPaths.STREAM_PATH).toBe(STREAM_PATH);
    expect(constructPaths.HEALTH_PATH).toBe(HEALTH_PATH);
  });
});

describe('token keys', () => {
  test('the CLI mints only with keys the relay accepts', () => {
    expect(MIN_KEY_BYTES).toBe(MIN_AUTH_SECRET_BYTES);
  });
});

describe('the allow-list grammar', () => {
  test.each(ALLOW_LIST_CASES.map((c) => [c.entry, c] as const))('the relay answers the shared case %s', (_, c) => {
    if (c.rejected) {
      expect(() => parseAllowList(c.entry)).toThrow();
    } else {
      expect(parseAllowList(c.entry)).toMatchObject([{ scheme: c.scheme, port: c.port }]);
    }
  });
});

describe('the construct\'s container environment loads in the relay', () => {
  const cases: [string, (stack: Stack) => TranswrapRelayProps][] = [
    ['the defaults', () => ({})],
    ['a secret of the user\'s and scaling without protection', (stack) => ({
      auth: RelayAuth.fromSecret(secretsmanager.Secret.fromSecretNameV2(stack, 'Key', 'relay/key')),
      scaling: { maxTasks: 4, scaleInProtection: false },
    })],
    ['every option', (stack) => {
      const vpc = new ec2.Vpc(stack, 'OwnVpc', { natGateways: 0, maxAzs: 2 });
      return {
        vpc,
        cluster: new ecs.Cluster(stack, 'OwnCluster', { vpc }),
        port: 8443,
        allowedCidrs: ['203.0.113.0/24'],
        cpu: 2048,
        memoryLimitMiB: 4096,
        cpuArchitecture: ecs.CpuArchitecture.ARM64,
        auth: RelayAuth.oidc({
          jwksUrl: 'https://cognito-idp.us-west-2.amazonaws.com/us-west-2_abc/.well-known/jwks.json',
          issuer: 'https://cognito-idp.us-west-2.amazonaws.com/us-west-2_abc',
          audience: 'client-id',
        }),
        allowedIngests: ['rtmps://*.global-contribute.live-video.net', 'rtmp://ingest.example.com:1936', 'rtmp://127.0.0.1:1935/'],
        relayEnvironment: { RELAY_MAX_SESSIONS: '40', RELAY_MEDIA_TIMEOUT_MS: '15000' },
        scaling: { minTasks: 2, maxTasks: 12, targetSessionsPerTask: 30 },
        endpointsApi: { allowedOrigins: ['https://studio.example.com'] },
        dns: {
          hostedZone: route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0123456789ABCDEFGHIJ', zoneName: 'example.com' }),
          certificateSecret: secretsmanager.Secret.fromSecretNameV2(stack, 'Cert', 'relay-cert'),
          recordTtl: Duration.seconds(30),
        },
        tableRemovalPolicy: RemovalPolicy.DESTROY,
      };
    }],
  ];

  test.each(cases)('%s', (_, props) => {
    const { env, relay } = containerEnvironment(props);
    const config = loadConfig(env);
    expect(config.port).toBe(relay.port);
    expect(config.serviceName).toBe(relay.metricsServiceName);
    expect(config.allowedIngests.map((p) => p.source).join(',')).toBe(env.RELAY_ALLOWED_INGESTS!);
  });
});
