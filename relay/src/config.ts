import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { parseAllowList, type IngestPattern } from './destination.ts';
import { parseAllowedOrigins } from './origin.ts';

/** How the relay terminates TLS. */
export type TlsMode = 'self-signed' | 'provided' | 'off';

/** The relay's configuration, parsed and validated from the environment (docs/configuration.md#variables). */
export interface RelayConfig {
  readonly host: string;
  readonly port: number;
  readonly tls: TlsMode;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly auth: 'required' | 'none';
  readonly authSecret?: string;
  readonly authJwksUrl?: string;
  readonly authIssuer?: string;
  readonly authAudience?: string;
  /** How far beyond now (and beyond its `iat`) a token's `exp` may lie. */
  readonly maxTokenLifetimeMs: number;
  readonly allowedIngests: readonly IngestPattern[];
  readonly maxSessions: number;
  readonly maxTranscodes: number;
  readonly maxSessionsPerAddress: number;
  /** Sessions one token subject may hold at once (see `tokenSubject` in auth.ts). */
  readonly maxSessionsPerSubject: number;
  readonly maxPendingConnections: number;
  readonly maxPendingPerAddress: number;
  readonly maxMessageBytes: number;
  readonly mediaTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly ffmpegPath: string;
  /** Each FFmpeg's address-space limit in MiB (RLIMIT_AS, set with util-linux's prlimit); 0: none. */
  readonly ffmpegMemoryLimitMiB: number;
  readonly startTimeoutMs: number;
  /** How long after `ready` FFmpeg may take to open its output (`live`). */
  readonly liveTimeoutMs: number;
  /** How long after an output failure a reconnecting session may take to be live again; 0: no reconnects. */
  readonly reconnectWindowMs: number;
  /** Destinations one session may publish to. */
  readonly maxDestinations: number;
  readonly ingestStallTimeoutMs: number;
  readonly maxBufferedBytes: number;
  /** Media held for all FFmpeg processes together; see buffer-budget.ts. */
  readonly maxTotalBufferedBytes: number;
  readonly servePage: boolean;
  readonly compatRoute: boolean;
  /** Web origins whose pages may open sessions; empty: any (docs/configuration.md#variables). */
  readonly allowedOrigins: readonly string[];
  readonly serviceName: string;
  readonly scaleInProtection: boolean;
  /** PEM bundle of the CAs FFmpeg trusts for `rtmps://` ingests (it verifies the certificate and host name). */
  readonly ingestCaFile: string;
  /** Set by ECS in every task; where the task-protection endpoint lives. */
  readonly ecsAgentUri?: string;
  /** Where the per-frame delay trace is appended (see delay-trace.ts); unset: no trace. */
  readonly delayTraceFile?: string;
}

/** Thrown when one or more variables are invalid; `problems` holds one line per bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

const MIB = 1024 * 1024;

/**
 * The shortest `RELAY_AUTH_SECRET`, in UTF-8 bytes after trimming: an HS256 key shorter than its
 * 32-byte hash can be guessed offline from a single token. The CLI's `token` command refuses the
 * same (its MIN_KEY_BYTES); the key the construct generates has 64.
 */
export const MIN_AUTH_SECRET_BYTES = 32;

/** Debian's system CA bundle (package `ca-certificates`, installed in the image). */
export const DEFAULT_INGEST_CA_FILE = '/etc/ssl/certs/ca-certificates.crt';

/** True for addresses that only the local machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/**
 * Parses and validates the relay's environment. Collects every problem before failing so an
 * operator fixes them all in one round.
 * @throws ConfigError listing one line per bad variable
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): RelayConfig {
  const problems: string[] = [];
  const str = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const int = (name: string, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = str(name);
    if (raw === undefined) return def;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name}: expected an integer from ${min} to ${max}, got "${raw}"`);
      return def;
    }
    return Number(raw);
  };
  const oneOf = <T extends string>(name: string, values: readonly T[], def: T): T => {
    const raw = str(name);
    if (raw === undefined) return def;
    if (!(values as readonly string[]).includes(raw)) {
      problems.push(`${name}: expected one of ${values.join('|')}, got "${raw}"`);
      return def;
    }
    return raw as T;
  };

  const host = str('RELAY_HOST') ?? '0.0.0.0';
  const port = int('RELAY_PORT', 8443, 0, 65535);
  const tls = oneOf<TlsMode>('RELAY_TLS', ['self-signed', 'provided', 'off'], 'self-signed');
  const tlsCert = str('RELAY_TLS_CERT');
  const tlsKey = str('RELAY_TLS_KEY');
  if (tls === 'provided') {
    if (!tlsCert || !tlsCert.includes('-----BEGIN ')) problems.push('RELAY_TLS_CERT: required PEM certificate when RELAY_TLS=provided');
    if (!tlsKey || !tlsKey.includes('-----BEGIN ')) problems.push('RELAY_TLS_KEY: required PEM private key when RELAY_TLS=provided');
  }
  // Plain ws is for development on the local machine only: a relay reachable from a network
  // without TLS would carry tokens and stream keys in clear text.
  if (tls === 'off' && !isLoopbackHost(host)) {
    problems.push(`RELAY_TLS: "off" is allowed only when RELAY_HOST is a loopback address, got RELAY_HOST="${host}"`);
  }

  const auth = oneOf('RELAY_AUTH', ['required', 'none'] as const, 'required');
  const authSecret = str('RELAY_AUTH_SECRET');
  const authJwksUrl = str('RELAY_AUTH_JWKS_URL');
  const authIssuer = str('RELAY_AUTH_ISSUER');
  const authAudience = str('RELAY_AUTH_AUDIENCE');
  if (auth === 'none' && !isLoopbackHost(host)) {
    problems.push(`RELAY_AUTH: "none" is allowed only when RELAY_HOST is a loopback address, got RELAY_HOST="${host}"`);
  }
  // Never quotes the value: only its length.
  if (authSecret !== undefined && Buffer.byteLength(authSecret) < MIN_AUTH_SECRET_BYTES) {
    problems.push(`RELAY_AUTH_SECRET: expected at least ${MIN_AUTH_SECRET_BYTES} bytes (UTF-8, surrounding whitespace not counted), got ${Buffer.byteLength(authSecret)}`);
  }
  if (auth === 'required') {
    if (authSecret && authJwksUrl) {
      problems.push('RELAY_AUTH_SECRET: set either RELAY_AUTH_SECRET or RELAY_AUTH_JWKS_URL, not both');
    } else if (!authSecret && !authJwksUrl) {
      problems.push('RELAY_AUTH_SECRET: required (or RELAY_AUTH_JWKS_URL) unless RELAY_AUTH=none');
    }
  }
  if (authJwksUrl) {
    let ok = false;
    try {
      const u = new URL(authJwksUrl);
      ok = u.protocol === 'https:' || (u.protocol === 'http:' && isLoopbackHost(u.hostname));
    } catch {
      ok = false;
    }
    if (!ok) problems.push('RELAY_AUTH_JWKS_URL: expected an https:// URL (http:// only on loopback)');
    if (!authIssuer) problems.push('RELAY_AUTH_ISSUER: required with RELAY_AUTH_JWKS_URL');
    // An issuer signs tokens for every application it serves: without an audience, a token it
    // minted for another of them would open the relay too.
    if (!authAudience) problems.push('RELAY_AUTH_AUDIENCE: required with RELAY_AUTH_JWKS_URL');
  }
  // 24 h, the CLI's longest `--ttl`.
  const maxTokenLifetimeMs = int('RELAY_MAX_TOKEN_LIFETIME_MS', 86_400_000, 1000);

  let allowedIngests: IngestPattern[] = [];
  try {
    allowedIngests = parseAllowList(str('RELAY_ALLOWED_INGESTS') ?? 'rtmps://*.global-contribute.live-video.net');
  } catch (e) {
    problems.push(`RELAY_ALLOWED_INGESTS: ${(e as Error).message}`);
  }

  const maxSessions = int('RELAY_MAX_SESSIONS', 100, 0);
  const maxTranscodes = int('RELAY_MAX_TRANSCODES', availableParallelism(), 0);
  // Browsers behind one NAT share an address: 10 leaves room for a small studio, and keeps one
  // client with a token from taking every slot. Loopback tests and the demo stay well under it.
  const maxSessionsPerAddress = int('RELAY_MAX_SESSIONS_PER_ADDRESS', 10, 1);
  // One identity, whichever addresses it streams from: a token copied out of a page cannot run more.
  const maxSessionsPerSubject = int('RELAY_MAX_SESSIONS_PER_SUBJECT', 10, 1);
  const maxPendingConnections = int('RELAY_MAX_PENDING_CONNECTIONS', 100, 1);
  const maxPendingPerAddress = int('RELAY_MAX_PENDING_PER_ADDRESS', 10, 1);
  // MediaRecorder chunks are about 100 KB (a 250 ms timeslice at a few Mbit/s): 1 MiB is ample, and
  // bounds what one frame costs before the relay looks at it.
  const maxMessageBytes = int('RELAY_MAX_MESSAGE_BYTES', MIB, 1024, 1024 * MIB);
  // Once live it is judged on FFmpeg's progress reports, which come once a second.
  const mediaTimeoutMs = int('RELAY_MEDIA_TIMEOUT_MS', 10_000, 1000);
  const drainTimeoutMs = int('RELAY_DRAIN_TIMEOUT_MS', 110_000, 0);
  const ffmpegPath = str('RELAY_FFMPEG_PATH') ?? 'ffmpeg';
  // Address space, not resident memory: FFmpeg maps about 350 MiB of libraries before it reads a
  // byte, and x264 reserves more with every thread it starts (1.5 per CPU). Measured with Debian's
  // FFmpeg: 720p/1080p transcodes need 768 MiB with 3 threads and 2 GiB with 12; a copy, 384 MiB.
  const ffmpegMemoryLimitMiB = int('RELAY_FFMPEG_MEMORY_LIMIT_MB', 1024 + 128 * availableParallelism(), 0);
  if (ffmpegMemoryLimitMiB > 0 && Bun.which('prlimit', { PATH: env.PATH ?? process.env.PATH ?? '' }) === null) {
    problems.push('RELAY_FFMPEG_MEMORY_LIMIT_MB: needs util-linux\'s prlimit on PATH (it is in the image); set 0 to run FFmpeg without a limit');
  }
  const startTimeoutMs = int('RELAY_START_TIMEOUT_MS', 10_000, 100);
  const liveTimeoutMs = int('RELAY_LIVE_TIMEOUT_MS', 15_000, 100);
  // Long enough for an RTMP server to restart, short enough that viewers are still there.
  const reconnectWindowMs = int('RELAY_RECONNECT_WINDOW_MS', 30_000, 0);
  // Each costs a slot and a publishing FFmpeg; three covers "my channel plus two platforms".
  const maxDestinations = int('RELAY_MAX_DESTINATIONS', 3, 1, 10);
  const ingestStallTimeoutMs = int('RELAY_INGEST_STALL_TIMEOUT_MS', 10_000, 100);
  const maxBufferedBytes = int('RELAY_MAX_BUFFERED_BYTES', 16 * MIB, 64 * 1024, 1024 * MIB);
  if (maxBufferedBytes < maxMessageBytes) {
    problems.push(`RELAY_MAX_BUFFERED_BYTES: must be at least RELAY_MAX_MESSAGE_BYTES (${maxMessageBytes}), got ${maxBufferedBytes}`);
  }
  // An eighth of the construct's default 2 GiB task: sessions' queues are normally about 1 MiB
  // each (the high-water mark), so only ingests that stop keeping up ever come near it.
  const maxTotalBufferedBytes = int('RELAY_MAX_TOTAL_BUFFERED_BYTES', 256 * MIB, 64 * 1024);
  if (maxTotalBufferedBytes < maxBufferedBytes) {
    problems.push(`RELAY_MAX_TOTAL_BUFFERED_BYTES: must be at least RELAY_MAX_BUFFERED_BYTES (${maxBufferedBytes}), got ${maxTotalBufferedBytes}`);
  }
  const servePage = oneOf('RELAY_SERVE_PAGE', ['on', 'off'] as const, 'on') === 'on';
  const compatRoute = oneOf('RELAY_COMPAT_ROUTE', ['on', 'off'] as const, 'off') === 'on';
  let allowedOrigins: string[] = [];
  try {
    allowedOrigins = parseAllowedOrigins(str('RELAY_ALLOWED_ORIGINS') ?? '');
  } catch (e) {
    problems.push(`RELAY_ALLOWED_ORIGINS: ${(e as Error).message}`);
  }
  const serviceName = str('RELAY_SERVICE_NAME') ?? 'transwrap-relay';
  const scaleInProtection = oneOf('RELAY_SCALE_IN_PROTECTION', ['on', 'off'] as const, 'off') === 'on';
  // Checked only when set: the default is the system bundle, and a relay that only publishes
  // rtmp:// needs none. (Without it every rtmps:// session fails verification: 4502.)
  const ingestCaFile = str('RELAY_INGEST_CA_FILE') ?? DEFAULT_INGEST_CA_FILE;
  if (str('RELAY_INGEST_CA_FILE') !== undefined) {
    const problem = caFileProblem(ingestCaFile);
    if (problem) problems.push(`RELAY_INGEST_CA_FILE: ${problem}, got "${ingestCaFile}"`);
  }
  // Off unless set: the benchmark's measurement of how long frames wait in the relay (delay-trace.ts).
  const delayTraceFile = str('RELAY_DELAY_TRACE_FILE');
  if (delayTraceFile !== undefined) {
    const problem = traceFileProblem(delayTraceFile);
    if (problem) problems.push(`RELAY_DELAY_TRACE_FILE: ${problem}, got "${delayTraceFile}"`);
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    host,
    port,
    tls,
    tlsCert,
    tlsKey,
    auth,
    authSecret,
    authJwksUrl,
    authIssuer,
    authAudience,
    maxTokenLifetimeMs,
    allowedIngests,
    maxSessions,
    maxTranscodes,
    maxSessionsPerAddress,
    maxSessionsPerSubject,
    maxPendingConnections,
    maxPendingPerAddress,
    maxMessageBytes,
    mediaTimeoutMs,
    drainTimeoutMs,
    ffmpegPath,
    ffmpegMemoryLimitMiB,
    startTimeoutMs,
    liveTimeoutMs,
    reconnectWindowMs,
    maxDestinations,
    ingestStallTimeoutMs,
    maxBufferedBytes,
    maxTotalBufferedBytes,
    servePage,
    compatRoute,
    allowedOrigins,
    serviceName,
    scaleInProtection,
    ingestCaFile,
    ecsAgentUri: str('ECS_AGENT_URI'),
    delayTraceFile,
  };
}

/** Why `path` is not a usable PEM CA bundle, or `undefined` when it is. */
export function caFileProblem(path: string): string | undefined {
  try {
    if (!statSync(path).isFile()) return 'expected a PEM file of CA certificates, but it is not a regular file';
    if (!readFileSync(path, 'utf8').includes('-----BEGIN CERTIFICATE-----')) {
      return 'expected a PEM file of CA certificates, but it holds no "BEGIN CERTIFICATE" block';
    }
    return undefined;
  } catch {
    return 'expected a readable PEM file of CA certificates, but it cannot be read';
  }
}

/** Why lines cannot be appended to `path`, or `undefined` when they can. Nothing is created. */
function traceFileProblem(path: string): string | undefined {
  try {
    if (!statSync(path).isFile()) return 'expected a file to append to, but it is not a regular file';
    accessSync(path, constants.W_OK);
    return undefined;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') return 'expected a file to append to, but it cannot be written';
  }
  try {
    if (!statSync(dirname(path)).isDirectory()) return 'expected a file in an existing folder, but its parent is not a folder';
    accessSync(dirname(path), constants.W_OK);
    return undefined;
  } catch {
    return 'expected a file in an existing, writable folder';
  }
}
