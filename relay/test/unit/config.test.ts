import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { baseEnv, MAIN, REPO_ROOT } from '../../../harness/relay-process.ts';
import { MIN_KEY_BYTES } from '../../../src/cli/token-command.ts';
import { ConfigError, DEFAULT_INGEST_CA_FILE, loadConfig, MIN_AUTH_SECRET_BYTES, VARIABLES, type VariableSpec } from '../../src/config.ts';

const OK = { RELAY_AUTH_SECRET: 'an-hs256-key-of-at-least-32-bytes-for-tests' };

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe('configuration (docs/configuration.md)', () => {
  test('defaults', () => {
    const c = loadConfig(OK);
    expect(c.host).toBe('0.0.0.0');
    expect(c.port).toBe(8443);
    expect(c.tls).toBe('self-signed');
    expect(c.auth).toBe('required');
    expect(c.maxSessions).toBe(100);
    // MediaRecorder chunks are ~100 KB; the start message has its own 16 KiB bound.
    expect(c.maxMessageBytes).toBe(1024 * 1024);
    expect(c.maxBufferedBytes).toBe(16 * 1024 * 1024);
    expect(c.maxSessionsPerAddress).toBe(10);
    expect(c.maxPendingConnections).toBe(100);
    expect(c.maxPendingPerAddress).toBe(10);
    expect(c.liveTimeoutMs).toBe(15_000);
    expect(c.mediaTimeoutMs).toBe(10_000);
    expect(c.drainTimeoutMs).toBe(110_000);
    expect(c.ffmpegPath).toBe('ffmpeg');
    expect(c.allowedIngests.map((p) => p.source)).toEqual(['rtmps://*.global-contribute.live-video.net']);
    expect(c.servePage).toBe(true);
    expect(c.compatRoute).toBe(false);
    expect(c.startTimeoutMs).toBe(10_000);
    expect(c.ingestCaFile).toBe('/etc/ssl/certs/ca-certificates.crt');
    expect(DEFAULT_INGEST_CA_FILE).toBe(c.ingestCaFile);
    expect(c.delayTraceFile).toBeUndefined();
    expect(c.maxTokenLifetimeMs).toBe(86_400_000);
  });

  test('one line per bad variable, each naming it', () => {
    const p = problems({
      ...OK, RELAY_PORT: 'eighty', RELAY_TLS: 'maybe', RELAY_MAX_SESSIONS: '-1', RELAY_ALLOWED_INGESTS: 'http://x.com', RELAY_MAX_TOKEN_LIFETIME_MS: '999',
    });
    expect(p).toHaveLength(5);
    expect(p.some((l) => l.startsWith('RELAY_MAX_TOKEN_LIFETIME_MS:'))).toBe(true);
    expect(p[0]).toStartWith('RELAY_PORT:');
    expect(p.some((l) => l.startsWith('RELAY_TLS:'))).toBe(true);
    expect(p.some((l) => l.startsWith('RELAY_MAX_SESSIONS:'))).toBe(true);
    expect(p.some((l) => l.startsWith('RELAY_ALLOWED_INGESTS:'))).toBe(true);
  });

  test('auth must be configured unless none on loopback', () => {
    expect(problems({})[0]).toStartWith('RELAY_AUTH_SECRET:');
    expect(problems({ RELAY_AUTH: 'none' })[0]).toStartWith('RELAY_AUTH:');
    expect(problems({ RELAY_AUTH: 'none', RELAY_HOST: '127.0.0.1' })).toEqual([]);
    expect(problems({ ...OK, RELAY_AUTH_JWKS_URL: 'https://issuer.example/jwks' })[0]).toStartWith('RELAY_AUTH_SECRET:');
    expect(problems({ RELAY_AUTH_JWKS_URL: 'https://issuer.example/jwks' })).toEqual([
      expect.stringMatching(/^RELAY_AUTH_ISSUER: required/), expect.stringMatching(/^RELAY_AUTH_AUDIENCE: required/),
    ]);
    // An issuer's keys sign tokens for all its applications: the audience says which one is the relay.
    expect(problems({ RELAY_AUTH_JWKS_URL: 'https://issuer.example/jwks', RELAY_AUTH_ISSUER: 'https://issuer.example' })).toEqual([
      expect.stringMatching(/^RELAY_AUTH_AUDIENCE: required with RELAY_AUTH_JWKS_URL/),
    ]);
    expect(problems({ RELAY_AUTH_JWKS_URL: 'https://issuer.example/jwks', RELAY_AUTH_ISSUER: 'https://issuer.example', RELAY_AUTH_AUDIENCE: 'relay' })).toEqual([]);
    expect(problems({ RELAY_AUTH_JWKS_URL: 'http://issuer.example/jwks', RELAY_AUTH_ISSUER: 'x' })[0]).toStartWith('RELAY_AUTH_JWKS_URL:');
  });

  test('an HS256 secret has at least 32 bytes, counted in UTF-8 after trimming, and is never quoted', () => {
    // The CLI's token command refuses the same keys.
    expect(MIN_AUTH_SECRET_BYTES).toBe(MIN_KEY_BYTES);
    for (const short of ['s3cret-for-tests', 'x'.repeat(31), `  ${'x'.repeat(31)}\n`, 'é'.repeat(15) + 'x']) {
      const p = problems({ RELAY_AUTH_SECRET: short });
      expect(p).toHaveLength(1);
      expect(p[0]).toStartWith('RELAY_AUTH_SECRET:');
      expect(p[0]).toContain('at least 32 bytes');
      expect(p[0]).not.toContain(short.trim());
    }
    expect(problems({ RELAY_AUTH_SECRET: 'x'.repeat(32) })).toEqual([]);
    // Two bytes each in UTF-8: 16 characters are 32 bytes.
    expect(problems({ RELAY_AUTH_SECRET: 'é'.repeat(16) })).toEqual([]);
    expect(loadConfig({ RELAY_AUTH_SECRET: ` ${'k'.repeat(32)} ` }).authSecret).toBe('k'.repeat(32));
  });

  test('the per-address, pending and live limits: positive integers', () => {
    const c = loadConfig({
      ...OK,
      RELAY_MAX_SESSIONS_PER_ADDRESS: '3',
      RELAY_MAX_SESSIONS_PER_SUBJECT: '4',
      RELAY_MAX_PENDING_CONNECTIONS: '7',
      RELAY_MAX_PENDING_PER_ADDRESS: '2',
      RELAY_LIVE_TIMEOUT_MS: '5000',
    });
    const limits = [c.maxSessionsPerAddress, c.maxSessionsPerSubject, c.maxPendingConnections, c.maxPendingPerAddress, c.liveTimeoutMs];
    expect(limits).toEqual([3, 4, 7, 2, 5000]);
    expect(loadConfig(OK).maxSessionsPerSubject).toBe(10);
    const p = problems({
      ...OK, RELAY_MAX_SESSIONS_PER_ADDRESS: '0', RELAY_MAX_SESSIONS_PER_SUBJECT: '0', RELAY_MAX_PENDING_CONNECTIONS: '0', RELAY_MAX_PENDING_PER_ADDRESS: 'ten', RELAY_LIVE_TIMEOUT_MS: '99',
    });
    expect(p.map((l) => l.slice(0, l.indexOf(':')))).toEqual([
      'RELAY_MAX_SESSIONS_PER_ADDRESS', 'RELAY_MAX_SESSIONS_PER_SUBJECT', 'RELAY_MAX_PENDING_CONNECTIONS', 'RELAY_MAX_PENDING_PER_ADDRESS', 'RELAY_LIVE_TIMEOUT_MS',
    ]);
  });

  test('RELAY_FFMPEG_MEMORY_LIMIT_MB: 1024 MiB plus 128 per CPU unless set; 0 turns it off; a limit needs prlimit', () => {
    expect(loadConfig(OK).ffmpegMemoryLimitMiB).toBe(1024 + 128 * availableParallelism());
    expect(loadConfig({ ...OK, RELAY_FFMPEG_MEMORY_LIMIT_MB: '600' }).ffmpegMemoryLimitMiB).toBe(600);
    expect(loadConfig({ ...OK, RELAY_FFMPEG_MEMORY_LIMIT_MB: '0', PATH: '/nonexistent' }).ffmpegMemoryLimitMiB).toBe(0);
    expect(problems({ ...OK, PATH: '/nonexistent' })).toEqual([
      'RELAY_FFMPEG_MEMORY_LIMIT_MB: needs util-linux\'s prlimit on PATH (it is in the image); set 0 to run FFmpeg without a limit',
    ]);
    expect(problems({ ...OK, RELAY_FFMPEG_MEMORY_LIMIT_MB: '-1' })[0]).toStartWith('RELAY_FFMPEG_MEMORY_LIMIT_MB:');
  });

  test('plain ws only on loopback; provided TLS needs PEM', () => {
    expect(problems({ ...OK, RELAY_TLS: 'off' })[0]).toStartWith('RELAY_TLS:');
    expect(problems({ ...OK, RELAY_TLS: 'off', RELAY_HOST: '127.0.0.1' })).toEqual([]);
    const p = problems({ ...OK, RELAY_TLS: 'provided' });
    expect(p).toEqual([expect.stringMatching(/^RELAY_TLS_CERT:/), expect.stringMatching(/^RELAY_TLS_KEY:/)]);
  });

  test('allow-list patterns that are only wildcards, or wildcards over a one-label tail, are refused', () => {
    for (const bad of ['rtmps://*', 'rtmp://*.*', 'rtmps://*.com', 'rtmps://*.*.com', 'rtmps://*.example.*', 'rtmp://*.0.1:1935',
      'rtmps://*.global-contribute.live-video.net,rtmp://*']) {
      const p = problems({ ...OK, RELAY_ALLOWED_INGESTS: bad });
      expect(p).toHaveLength(1);
      expect(p[0]).toStartWith('RELAY_ALLOWED_INGESTS:');
      expect(p[0]).toContain('too broad');
    }
    for (const good of ['rtmps://*.global-contribute.live-video.net', 'rtmp://*.example.com:1935', 'rtmp://a.*.example.com',
      'rtmp://127.0.0.1:1935', 'rtmp://localhost:19350', 'rtmps://ingest.example.com']) {
      expect(problems({ ...OK, RELAY_ALLOWED_INGESTS: good })).toEqual([]);
    }
  });

  describe('RELAY_INGEST_CA_FILE', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'relay-ca-'));
      await writeFile(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
      await writeFile(join(dir, 'empty.pem'), '');
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    test('an explicit value must be a PEM file of certificates', () => {
      expect(loadConfig({ ...OK, RELAY_INGEST_CA_FILE: join(dir, 'ca.pem') }).ingestCaFile).toBe(join(dir, 'ca.pem'));
      for (const bad of [join(dir, 'missing.pem'), join(dir, 'empty.pem'), dir]) {
        const p = problems({ ...OK, RELAY_INGEST_CA_FILE: bad });
        expect(p).toHaveLength(1);
        expect(p[0]).toStartWith('RELAY_INGEST_CA_FILE:');
      }
    });
  });

  describe('RELAY_DELAY_TRACE_FILE', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'relay-trace-'));
      await writeFile(join(dir, 'existing.jsonl'), '');
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    test('a file that can be appended to, or created in an existing folder; nothing is created at start', () => {
      expect(loadConfig({ ...OK, RELAY_DELAY_TRACE_FILE: join(dir, 'existing.jsonl') }).delayTraceFile).toBe(join(dir, 'existing.jsonl'));
      expect(loadConfig({ ...OK, RELAY_DELAY_TRACE_FILE: ` ${join(dir, 'new.jsonl')} ` }).delayTraceFile).toBe(join(dir, 'new.jsonl'));
      expect(existsSync(join(dir, 'new.jsonl'))).toBe(false);
      expect(loadConfig({ ...OK, RELAY_DELAY_TRACE_FILE: ' ' }).delayTraceFile).toBeUndefined();
    });

    test('a folder, or a file in a folder that does not exist, is refused', () => {
      for (const bad of [dir, join(dir, 'missing', 'trace.jsonl'), join(dir, 'existing.jsonl', 'trace.jsonl')]) {
        const p = problems({ ...OK, RELAY_DELAY_TRACE_FILE: bad });
        expect(p).toHaveLength(1);
        expect(p[0]).toStartWith('RELAY_DELAY_TRACE_FILE:');
        expect(p[0]).toContain(`got "${bad}"`);
      }
    });
  });

  test('the relay exits non-zero at start with one clear line per bad variable', async () => {
    const proc = Bun.spawn([process.execPath, MAIN], {
      cwd: REPO_ROOT,
      env: {
        ...baseEnv(),
        // Too short: named, never quoted.
        RELAY_AUTH_SECRET: 'short-secret-for-the-start-test',
        RELAY_MEDIA_TIMEOUT_MS: 'soon',
        RELAY_SERVE_PAGE: 'yes',
        RELAY_INGEST_CA_FILE: '/nonexistent/ca.pem',
        RELAY_ALLOWED_INGESTS: 'rtmps://*.com',
      },
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const [code, out] = await Promise.all([proc.exited, new Response(proc.stdout).text()]);
    expect(code).not.toBe(0);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(5);
    expect(lines.map((l) => l.variable).sort()).toEqual([
      'RELAY_ALLOWED_INGESTS', 'RELAY_AUTH_SECRET', 'RELAY_INGEST_CA_FILE', 'RELAY_MEDIA_TIMEOUT_MS', 'RELAY_SERVE_PAGE',
    ]);
    expect(out).not.toContain('short-secret-for-the-start-test');
    for (const l of lines) {
      expect(l.level).toBe('error');
      expect(l.msg).toContain(l.variable);
    }
  });
});

// The variable table in docs/configuration.md is held to VARIABLES, the one list loadConfig parses from: every variable
// in one is in the other, with the same default and, for integers and choices, the same values.
describe('docs/configuration.md#variables and the configuration spec', () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'configuration.md'), 'utf8');
  const table = doc.slice(doc.indexOf('## Variables'), doc.indexOf('## What the construct sets'));
  const rows = new Map(table.split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => line.split(' | ').map((cell) => cell.replace(/^\| /, '')))
    .map(([variable, def, values]) => [variable!.replaceAll('`', ''), { def: def!, values: values! }]));

  /** How the table words a variable's default. */
  function documentedDefault(spec: VariableSpec): string {
    if (spec.docDefault) return spec.docDefault;
    const value = spec.type === 'integer' && typeof spec.default === 'function' ? spec.default() : spec.default;
    return value === undefined ? '—' : `\`${String(value)}\``;
  }

  /** How the table words an integer's range or a choice's values; undefined for free-form values. */
  function documentedValues(spec: VariableSpec): string | undefined {
    if (spec.type === 'integer') return spec.max === undefined ? `${spec.min} or more` : `${spec.min} – ${spec.max}`;
    if (spec.type === 'choice') return spec.values.map((v) => `\`${v}\``).join(', ');
    if (spec.type === 'switch') return '`on`, `off`';
    return undefined;
  }

  test('the same variables, each once', () => {
    expect(rows.size).toBeGreaterThan(30);
    expect([...rows.keys()].sort()).toEqual(VARIABLES.map((v) => v.name).sort());
    expect(new Set(VARIABLES.map((v) => v.key)).size).toBe(VARIABLES.length);
  });

  for (const spec of VARIABLES) {
    test(`${spec.name}: default and values`, () => {
      const row = rows.get(spec.name);
      expect(row).toBeDefined();
      expect(row!.def).toStartWith(documentedDefault(spec));
      const values = documentedValues(spec);
      if (values !== undefined) expect(row!.values).toStartWith(values);
      expect(spec.doc.length).toBeGreaterThan(0);
    });
  }

  test('each variable parses to its default when unset', () => {
    const c = loadConfig(OK) as unknown as Record<string, unknown>;
    for (const spec of VARIABLES) {
      if (spec.name === 'RELAY_AUTH_SECRET') continue;
      const def = spec.type === 'integer' && typeof spec.default === 'function' ? spec.default()
        : spec.type === 'switch' ? spec.default === 'on' : spec.default;
      expect(c[spec.key]).toEqual(def);
    }
  });
});
