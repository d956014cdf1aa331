import { spawn } from 'child_process';
import { createHmac } from 'crypto';
import { createServer, Server } from 'http';
import * as path from 'path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createRegistryTable, Dynalite, putRegistryItem, startDynalite } from './support/dynalite';
import { close, listen } from './support/loopback-server';
import { freePort } from '../harness/ports';
import { RelayProcess, startRelay } from '../harness/relay-process';

/** What the Secrets Manager stand-in holds: a key of the length relays require. */
const STORED_KEY = 'stored-key-value-of-at-least-32-bytes-abcdef';

// The CLI is tested as users run it: the compiled bin in a child process, against dynalite
// through the real AWS SDK. Secrets Manager has no local implementation, so a small HTTP
// server speaking its JSON protocol stands in for it.
const root = path.join(__dirname, '..');
const BIN = path.join(root, 'lib', 'cli', 'main.js');
const TABLE = 'relays';
const EMPTY_TABLE = 'no-relays';

let db: Dynalite;
let secretsStub: Server;
let secretsEndpoint: string;

async function run(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}) {
  const env = {
    PATH: process.env.PATH,
    AWS_REGION: 'us-west-2',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsEndpoint,
    AWS_CONFIG_FILE: '/nonexistent',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
    AWS_EC2_METADATA_DISABLED: 'true',
    ...opts.env,
  };
  // Asynchronous on purpose: dynalite and the stubs run in this process and must keep serving.
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ['--no-warnings', BIN, ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', c => { stdout += c; });
    child.stderr.on('data', c => { stderr += c; });
    child.on('close', code => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

beforeAll(async () => {
  db = await startDynalite();
  secretsStub = createServer((req, res) => {
    let body = '';
    req.on('data', c => { body += c; });
    req.on('end', () => {
      const { SecretId } = JSON.parse(body);
      res.setHeader('content-type', 'application/x-amz-json-1.1');
      if (req.headers['x-amz-target'] === 'secretsmanager.GetSecretValue' && SecretId === 'relay/key') {
        res.end(JSON.stringify({ ARN: 'arn:aws:secretsmanager:us-west-2:111122223333:secret:relay/key', Name: 'relay/key', SecretString: STORED_KEY }));
      } else {
        res.statusCode = 400;
        res.end(JSON.stringify({ __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." }));
      }
    });
  });
  secretsEndpoint = await listen(secretsStub);

  const client = new DynamoDBClient({ endpoint: db.endpoint, region: 'us-west-2', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  await createRegistryTable(client, TABLE);
  await createRegistryTable(client, EMPTY_TABLE);
  const arn = (id: string) => `arn:aws:ecs:us-west-2:111122223333:task/Relays/${id}`;
  await putRegistryItem(client, TABLE, {
    taskArn: arn('a1'), status: 'RUNNING', publicIp: '198.51.100.7', port: 443, availabilityZone: 'us-west-2a', startedAt: '2026-11-28T10:00:00Z', version: 3,
  });
  await putRegistryItem(client, TABLE, {
    taskArn: arn('b2'), status: 'RUNNING', publicIp: '198.51.100.8', port: 8443, availabilityZone: 'us-west-2b', startedAt: '2026-11-28T10:01:00Z', version: 3,
  });
  await putRegistryItem(client, TABLE, { taskArn: arn('c3'), status: 'DRAINING', publicIp: '198.51.100.9', version: 5 });
  await putRegistryItem(client, TABLE, { taskArn: arn('d4'), status: 'STOPPED', version: 7, expiresAt: 1895000000 });
  await putRegistryItem(client, TABLE, { taskArn: arn('e5'), status: 'RUNNING', privateIp: '10.0.0.5', version: 3 });
  client.destroy();
});

afterAll(async () => {
  await db?.close();
  if (secretsStub) await close(secretsStub);
});

describe('endpoints', () => {
  test('lists exactly the RUNNING relays with a public IP, as JSON', async () => {
    const res = await run(['endpoints', '--table', TABLE, '--json']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const rows = JSON.parse(res.stdout);
    expect(rows.map((r: { url: string }) => r.url)).toEqual(['wss://198.51.100.7/v1/stream', 'wss://198.51.100.8:8443/v1/stream']);
    expect(rows[0]).toMatchObject({ publicIp: '198.51.100.7', port: 443, availabilityZone: 'us-west-2a' });
  });

  test('prints a table by default', async () => {
    const res = await run(['endpoints', '--table', TABLE]);
    expect(res.code).toBe(0);
    const lines = res.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^URL\s+AZ\s+STARTED$/);
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(/^wss:\/\/198\.51\.100\.7\/v1\/stream\s+us-west-2a\s+2026-11-28T10:00:00Z$/),
      expect.stringMatching(/^wss:\/\/198\.51\.100\.8:8443\/v1\/stream\s+us-west-2b\s+2026-11-28T10:01:00Z$/),
    ]);
  });

  test('says so when no relay is live', async () => {
    const res = await run(['endpoints', '--table', EMPTY_TABLE]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/no live relays in table no-relays/);
  });

  test('names a missing table and the region it looked in', async () => {
    const res = await run(['endpoints', '--table', 'typo-table']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/table typo-table not found in region us-west-2: use the RegistryTableName output/);
  });

  test('explains missing credentials', async () => {
    const res = await run(['endpoints', '--table', TABLE], { env: { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' } });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/no usable AWS credentials/);
  });

  test('requires --table', async () => {
    const res = await run(['endpoints']);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/required option '--table <name>' not specified/);
  });
});

describe('endpoints --probe against a real relay', () => {
  let relay: RelayProcess;
  let relayPort: number;
  let closedPort: number;
  const probeTable = 'probe-relays';

  beforeAll(async () => {
    relay = await startRelay({ RELAY_TLS: 'self-signed', RELAY_AUTH: 'none' });
    relayPort = relay.port;
    closedPort = await freePort();
    const client = new DynamoDBClient({ endpoint: db.endpoint, region: 'us-west-2', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    await createRegistryTable(client, probeTable);
    await putRegistryItem(client, probeTable, { taskArn: 'arn:aws:ecs:us-west-2:1:task/c/live', status: 'RUNNING', publicIp: '127.0.0.1', port: relayPort });
    await putRegistryItem(client, probeTable, { taskArn: 'arn:aws:ecs:us-west-2:1:task/c/gone', status: 'RUNNING', publicIp: '127.0.0.1', port: closedPort });
    client.destroy();
  });

  afterAll(async () => {
    await relay?.stop();
  });

  test('reports each relay\'s health and session count over its self-signed TLS', async () => {
    const res = await run(['endpoints', '--table', probeTable, '--probe', '--json']);
    expect(res.code).toBe(0);
    const rows = JSON.parse(res.stdout);
    const byPort = Object.fromEntries(rows.map((r: { port: number }) => [r.port, r]));
    expect(byPort[relayPort]).toMatchObject({ health: 'ok', sessions: 0 });
    expect(byPort[closedPort]).toMatchObject({ health: 'unreachable' });
  });
});

describe('token', () => {
  const OFFLINE_KEY = 'offline-key-of-at-least-32-bytes-0123456789';
  function verify(token: string, key: string) {
    const [header, payload, signature] = token.trim().split('.');
    const expected = createHmac('sha256', key).update(`${header}.${payload}`).digest('base64url');
    expect(signature).toBe(expected);
    expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toMatchObject({ alg: 'HS256' });
    return JSON.parse(Buffer.from(payload, 'base64url').toString()) as { iat: number; exp: number; ingest?: string | string[]; sub?: string; jti?: string };
  }

  test('mints an HS256 token from the secret read on stdin, expiring after --ttl', async () => {
    const res = await run(['token', '--secret-value', '-', '--ttl', '2h'], { input: `${OFFLINE_KEY}\n` });
    expect(res.code).toBe(0);
    const claims = verify(res.stdout, OFFLINE_KEY);
    expect(claims.exp - claims.iat).toBe(7200);
  });

  test('reads the key from Secrets Manager with --secret-id (default lifetime 1 h)', async () => {
    const res = await run(['token', '--secret-id', 'relay/key']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const claims = verify(res.stdout, STORED_KEY);
    expect(claims.exp - claims.iat).toBe(3600);
  });

  test('names a missing secret', async () => {
    const res = await run(['token', '--secret-id', 'nope']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/can't find the specified secret/);
  });

  test('needs exactly one key source and a valid ttl', async () => {
    expect((await run(['token'])).stderr).toMatch(/give exactly one of --secret-id <arn> or --secret-value -/);
    expect((await run(['token', '--secret-value', '-', '--ttl', 'soon'], { input: OFFLINE_KEY })).stderr).toMatch(/--ttl <duration>.*invalid/);
  });

  test('binds the token to an ingest with --ingest', async () => {
    const res = await run(['token', '--secret-value', '-', '--ingest', 'rtmps://abc.global-contribute.live-video.net:443/app/'], { input: OFFLINE_KEY });
    expect(res.code).toBe(0);
    expect(verify(res.stdout, OFFLINE_KEY)).toMatchObject({ ingest: 'rtmps://abc.global-contribute.live-video.net:443/app/' });
    const several = await run(['token', '--secret-value', '-', '--ingest', 'rtmps://abc.global-contribute.live-video.net:443/app/', '--ingest', 'rtmp://live.example.com/app/'], { input: OFFLINE_KEY });
    expect(verify(several.stdout, OFFLINE_KEY)).toMatchObject({ ingest: ['rtmps://abc.global-contribute.live-video.net:443/app/', 'rtmp://live.example.com/app/'] });
    expect(verify((await run(['token', '--secret-value', '-'], { input: OFFLINE_KEY })).stdout, OFFLINE_KEY).ingest).toBeUndefined();
  });

  test('each token has its own jti; --subject sets sub (relays cap sessions per subject, else per jti)', async () => {
    const [a, b] = await Promise.all([1, 2].map(async () => verify((await run(['token', '--secret-value', '-'], { input: OFFLINE_KEY })).stdout, OFFLINE_KEY)));
    expect(a!.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(a!.jti).not.toBe(b!.jti);
    expect(a!.sub).toBeUndefined();
    const named = await run(['token', '--secret-value', '-', '--subject', 'studio-7'], { input: OFFLINE_KEY });
    expect(verify(named.stdout, OFFLINE_KEY)).toMatchObject({ sub: 'studio-7' });
  });

  test('refuses a lifetime longer than relays accept', async () => {
    const res = await run(['token', '--secret-value', '-', '--ttl', '36500d'], { input: OFFLINE_KEY });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/at most 24h: relays refuse tokens that live longer/);
    expect((await run(['token', '--secret-value', '-', '--ttl', '24h'], { input: OFFLINE_KEY })).code).toBe(0);
  });

  test('refuses a key shorter than 32 bytes', async () => {
    const res = await run(['token', '--secret-value', '-'], { input: 'short-key\n' });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/the token key has 9 bytes; relays require at least 32/);
    expect(res.stdout).toBe('');
  });

  test('whitespace around the key is not part of it, as on the relay', async () => {
    const res = await run(['token', '--secret-value', '-'], { input: `  ${OFFLINE_KEY}  \r\n` });
    expect(res.code).toBe(0);
    verify(res.stdout, OFFLINE_KEY);
  });

  test('refuses a key on the command line', async () => {
    const res = await run(['token', '--secret-value', 'key-in-argv']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/--secret-value takes only "-"/);
    expect(res.stdout).toBe('');
  });
});
