import { randomUUID } from 'node:crypto';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CliError } from './errors';

/**
 * The shortest key relays accept (docs/configuration.md#authentication): HS256 with fewer bytes
 * than its hash is guessable offline. The generated key has 64.
 */
export const MIN_KEY_BYTES = 32;

interface TokenOptions {
  readonly secretId?: string;
  readonly secretValue?: string;
  readonly ttl: string;
  /** Ingests the token is bound to; none: unbound. */
  readonly ingest: string[];
  readonly subject?: string;
}

/** `token`: prints an HS256 relay token (docs/configuration.md#authentication) that expires after `--ttl`. */
export async function tokenCommand(options: TokenOptions): Promise<void> {
  if ((options.secretId === undefined) === (options.secretValue === undefined)) {
    throw new CliError('give exactly one of --secret-id <arn> or --secret-value - (the key on stdin)');
  }
  if (options.secretValue !== undefined && options.secretValue !== '-') {
    throw new CliError('--secret-value takes only "-" (the key on stdin): a key on the command line would land in shell history and the process list');
  }
  // One rule on both sides: whitespace around a key is not part of it (the relay trims its variable too).
  const key = (options.secretValue !== undefined ? await readStdin() : await fetchSecret(options.secretId!)).trim();
  const bytes = Buffer.byteLength(key);
  if (bytes < MIN_KEY_BYTES) {
    throw new CliError(`the token key has ${bytes} bytes; relays require at least ${MIN_KEY_BYTES} (the key the construct generates has 64)`);
  }

  // jose is an ES module; a dynamic import loads it from this CommonJS build.
  const { SignJWT } = await import('jose');
  // The relay refuses a token with an `ingest` claim for any other ingest (docs/configuration.md#authentication):
  // one ingest is a string, several (a broadcast to several destinations) an array.
  const bound = options.ingest.length === 0 ? {} : { ingest: options.ingest.length === 1 ? options.ingest[0] : options.ingest };
  const jwt = new SignJWT(bound)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    // Relays cap concurrent sessions per `sub`, else per `jti` (RELAY_MAX_SESSIONS_PER_SUBJECT):
    // a unique `jti` makes each token without a subject its own identity.
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime(options.ttl);
  if (options.subject !== undefined) jwt.setSubject(options.subject);
  const token = await jwt.sign(new TextEncoder().encode(key));
  process.stdout.write(`${token}\n`);
}

async function fetchSecret(secretId: string): Promise<string> {
  const out = await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: secretId }));
  if (out.SecretString === undefined) throw new CliError(`secret ${secretId} has no string value`);
  return out.SecretString;
}

async function readStdin(): Promise<string> {
  let data = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) data += chunk;
  return data;
}
