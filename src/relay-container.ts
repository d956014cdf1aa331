import { Duration } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { RelayAuth } from './relay-auth';
import { HEALTH_PATH } from './relay-paths';

/**
 * The relay's scratch directory, the one place it writes (a self-signed certificate's key and
 * certificate files, for as long as openssl needs them). relay/Dockerfile makes it, owned by the
 * relay user, points TMPDIR at it and declares it a VOLUME: with a task volume mounted at the same
 * path, Fargate copies that owner into the volume, so it stays writable on a read-only root.
 */
export const SCRATCH_DIR = '/run/relay';

/** What the relay container's environment is made from. */
export interface RelayEnvironmentInputs {
  readonly port: number;
  readonly allowedIngests: string[];
  readonly metricsServiceName: string;
  readonly drainTimeout: Duration;
  readonly scaleInProtection: boolean;
  readonly auth: RelayAuth;
  readonly authSecret?: secretsmanager.ISecret;
  readonly certificateSecret?: secretsmanager.ISecret;
  /** TMPDIR, when the root filesystem is read-only and this is the only writable place. */
  readonly tmpDir?: string;
  readonly extra: { [name: string]: string };
}

/** The relay container's variables and secrets (docs/configuration.md#what-the-construct-sets). */
export interface RelayEnvironment {
  readonly environment: { [name: string]: string };
  readonly secrets: { [name: string]: ecs.Secret };
}

/** Variables the construct always sets itself, besides every `RELAY_AUTH*` and `RELAY_TLS*`. */
const MANAGED_VARIABLES = [
  'RELAY_HOST', 'RELAY_PORT', 'RELAY_ALLOWED_INGESTS', 'RELAY_SERVICE_NAME', 'RELAY_DRAIN_TIMEOUT_MS', 'RELAY_SCALE_IN_PROTECTION',
];

/**
 * Whether `relayEnvironment` may not set `name`. Authentication and TLS variables are always the construct's: a user
 * setting `RELAY_AUTH=none` or `RELAY_TLS=off` would open the relay (the relay refuses them off loopback anyway).
 */
export function isManagedVariable(name: string, readonlyRootFilesystem: boolean): boolean {
  return MANAGED_VARIABLES.includes(name) || name.startsWith('RELAY_AUTH') || name.startsWith('RELAY_TLS')
    || (readonlyRootFilesystem && name === 'TMPDIR');
}

/** The construct's settings for the relay, and the user's `relayEnvironment` where it does not manage them. */
export function relayEnvironment(inputs: RelayEnvironmentInputs): RelayEnvironment {
  const managed: { [name: string]: string } = {
    RELAY_HOST: '0.0.0.0',
    RELAY_PORT: String(inputs.port),
    RELAY_TLS: inputs.certificateSecret ? 'provided' : 'self-signed',
    RELAY_ALLOWED_INGESTS: inputs.allowedIngests.join(','),
    RELAY_SERVICE_NAME: inputs.metricsServiceName,
    // Drain, then up to 10 s for FFmpeg to flush, within ECS's 120 s stop timeout.
    RELAY_DRAIN_TIMEOUT_MS: String(inputs.drainTimeout.toMilliseconds()),
    // Only with the task role's permission to do it (see relay-scaling.ts).
    RELAY_SCALE_IN_PROTECTION: inputs.scaleInProtection ? 'on' : 'off',
  };
  // The image sets it too. Set here, it also holds for an image built FROM it with an ENV of its own,
  // and relayEnvironment cannot point it at the read-only root.
  if (inputs.tmpDir) managed.TMPDIR = inputs.tmpDir;
  const secrets: { [name: string]: ecs.Secret } = {};
  if (inputs.certificateSecret) {
    secrets.RELAY_TLS_CERT = ecs.Secret.fromSecretsManager(inputs.certificateSecret, 'certificate');
    secrets.RELAY_TLS_KEY = ecs.Secret.fromSecretsManager(inputs.certificateSecret, 'privateKey');
  }
  const oidc = inputs.auth.oidcOptions;
  if (oidc) {
    managed.RELAY_AUTH_JWKS_URL = oidc.jwksUrl;
    managed.RELAY_AUTH_ISSUER = oidc.issuer;
    managed.RELAY_AUTH_AUDIENCE = oidc.audience;
  } else if (inputs.authSecret) {
    secrets.RELAY_AUTH_SECRET = ecs.Secret.fromSecretsManager(inputs.authSecret);
  }
  const extra = Object.fromEntries(Object.entries(inputs.extra).filter(([name]) => !isManagedVariable(name, inputs.tmpDir !== undefined)));
  return { environment: { ...extra, ...managed }, secrets };
}

/**
 * The default container health check: `GET /healthz` on the relay itself, over TLS unless it is
 * off, run with the image's `bun` (an image without Bun needs its own, see the `healthCheck` prop).
 */
export function defaultHealthCheck(port: number): ecs.HealthCheck {
  const script = [
    "const s=process.env.RELAY_TLS==='off'?'http':'https';",
    `fetch(s+'://127.0.0.1:${port}${HEALTH_PATH}',{tls:{rejectUnauthorized:false}})`,
    '.then(r=>process.exit(r.ok?0:1),()=>process.exit(1))',
  ].join('');
  return {
    command: ['CMD', 'bun', '-e', script],
    interval: Duration.seconds(15),
    timeout: Duration.seconds(5),
    retries: 3,
    startPeriod: Duration.seconds(20),
  };
}
