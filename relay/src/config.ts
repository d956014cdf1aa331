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

/** The Amazon IVS ingests over RTMPS on port 443: `RELAY_ALLOWED_INGESTS` when unset. */
const DEFAULT_ALLOWED_INGESTS = 'rtmps://*.global-contribute.live-video.net';

interface VariableBase<K extends keyof RelayConfig> {
  /** The environment variable. */
  readonly name: string;
  /** Where its value goes in {@link RelayConfig}. */
  readonly key: K;
  /** What it is for, in one line (docs/configuration.md#variables says the rest). */
  readonly doc: string;
  /** The default as docs/configuration.md's table words it, when it is not just the value. */
  readonly docDefault?: string;
}

/**
 * One environment variable of the relay: its name, type, default, bounds and what it is for. The
 * table below is the one list: `loadConfig` parses from it, and relay/test/unit/config.test.ts holds
 * docs/configuration.md's variable table to it.
 */
export type VariableSpec =
  | VariableBase<keyof RelayConfig> & { readonly type: 'integer'; readonly default: number | (() => number); readonly min: number; readonly max?: number }
  | VariableBase<keyof RelayConfig> & { readonly type: 'choice'; readonly values: readonly string[]; readonly default: string }
  /** `on` or `off`, read as a boolean. */
  | VariableBase<keyof RelayConfig> & { readonly type: 'switch'; readonly default: 'on' | 'off' }
  | VariableBase<keyof RelayConfig> & { readonly type: 'string'; readonly default?: string }
  /** Parsed (and checked) only when set; `parse` throws an Error whose message is the problem. */
  | VariableBase<keyof RelayConfig> & { readonly type: 'parsed'; readonly default: unknown; readonly parse: (value: string) => unknown };

/** The relay's environment variables, in the order their problems are reported. */
export const VARIABLES: readonly VariableSpec[] = [
  { name: 'RELAY_HOST', key: 'host', type: 'string', default: '0.0.0.0', doc: 'address to listen on' },
  { name: 'RELAY_PORT', key: 'port', type: 'integer', default: 8443, min: 0, max: 65535, doc: 'port to listen on; 0 picks a free one' },
  { name: 'RELAY_TLS', key: 'tls', type: 'choice', values: ['self-signed', 'provided', 'off'], default: 'self-signed', doc: 'how the relay terminates TLS' },
  { name: 'RELAY_TLS_CERT', key: 'tlsCert', type: 'string', doc: 'PEM certificate chain for RELAY_TLS=provided' },
  { name: 'RELAY_TLS_KEY', key: 'tlsKey', type: 'string', doc: 'PEM private key for RELAY_TLS=provided' },
  { name: 'RELAY_AUTH', key: 'auth', type: 'choice', values: ['required', 'none'], default: 'required', doc: 'whether start messages need a token' },
  { name: 'RELAY_AUTH_SECRET', key: 'authSecret', type: 'string', doc: 'HS256 key for tokens' },
  { name: 'RELAY_AUTH_JWKS_URL', key: 'authJwksUrl', type: 'string', doc: 'an OIDC issuer\'s key set, instead of a secret' },
  { name: 'RELAY_AUTH_ISSUER', key: 'authIssuer', type: 'string', doc: 'the `iss` every token must carry' },
  { name: 'RELAY_AUTH_AUDIENCE', key: 'authAudience', type: 'string', doc: 'the `aud` every token must carry' },
  // 24 h, the CLI's longest `--ttl`.
  { name: 'RELAY_MAX_TOKEN_LIFETIME_MS', key: 'maxTokenLifetimeMs', type: 'integer', default: 86_400_000, min: 1000, doc: 'the longest a token may live' },
  { name: 'RELAY_ALLOWED_INGESTS', key: 'allowedIngests', type: 'parsed', default: parseAllowList(DEFAULT_ALLOWED_INGESTS), docDefault: `\`${DEFAULT_ALLOWED_INGESTS}\``, parse: parseAllowList, doc: 'where the relay may publish' },
  { name: 'RELAY_MAX_SESSIONS', key: 'maxSessions', type: 'integer', default: 100, min: 0, doc: 'sessions beyond this many get 4013' },
  { name: 'RELAY_MAX_TRANSCODES', key: 'maxTranscodes', type: 'integer', default: () => availableParallelism(), min: 0, docDefault: 'the number of CPUs the process may use', doc: 'transcodes beyond this many get 4013' },
  // Browsers behind one NAT share an address: 10 leaves room for a small studio, and keeps one
  // client with a token from taking every slot. Loopback tests and the demo stay well under it.
  { name: 'RELAY_MAX_SESSIONS_PER_ADDRESS', key: 'maxSessionsPerAddress', type: 'integer', default: 10, min: 1, doc: 'sessions from one client address' },
  // One identity, whichever addresses it streams from: a token copied out of a page cannot run more.
  { name: 'RELAY_MAX_SESSIONS_PER_SUBJECT', key: 'maxSessionsPerSubject', type: 'integer', default: 10, min: 1, doc: 'sessions for one token subject' },
  { name: 'RELAY_MAX_PENDING_CONNECTIONS', key: 'maxPendingConnections', type: 'integer', default: 100, min: 1, doc: 'connections waiting to start' },
  { name: 'RELAY_MAX_PENDING_PER_ADDRESS', key: 'maxPendingPerAddress', type: 'integer', default: 10, min: 1, doc: 'connections waiting to start from one address' },
  // MediaRecorder chunks are about 100 KB (a 250 ms timeslice at a few Mbit/s) and the browser client
  // sends at most 256 KiB a frame: 1 MiB is ample, and bounds what one frame costs before the relay looks at it.
  { name: 'RELAY_MAX_MESSAGE_BYTES', key: 'maxMessageBytes', type: 'integer', default: MIB, min: 1024, max: 1024 * MIB, doc: 'largest WebSocket frame' },
  // Once live it is judged on FFmpeg's progress reports, which come once a second.
  { name: 'RELAY_MEDIA_TIMEOUT_MS', key: 'mediaTimeoutMs', type: 'integer', default: 10_000, min: 1000, doc: 'no media this long ends a session with 4408' },
  { name: 'RELAY_DRAIN_TIMEOUT_MS', key: 'drainTimeoutMs', type: 'integer', default: 110_000, min: 0, doc: 'how long live sessions may run on after SIGTERM' },
  { name: 'RELAY_FFMPEG_PATH', key: 'ffmpegPath', type: 'string', default: 'ffmpeg', doc: 'the FFmpeg executable' },
  // Address space, not resident memory: FFmpeg maps about 350 MiB of libraries before it reads a
  // byte, and x264 reserves more with every thread it starts (1.5 per CPU). Measured with Debian's
  // FFmpeg: 720p/1080p transcodes need 768 MiB with 3 threads and 2 GiB with 12; a copy, 384 MiB.
  { name: 'RELAY_FFMPEG_MEMORY_LIMIT_MB', key: 'ffmpegMemoryLimitMiB', type: 'integer', default: () => 1024 + 128 * availableParallelism(), min: 0, docDefault: '`1024` + `128` per CPU', doc: 'each FFmpeg\'s address-space limit in MiB; 0: none' },
  { name: 'RELAY_START_TIMEOUT_MS', key: 'startTimeoutMs', type: 'integer', default: 10_000, min: 100, doc: 'time for the start message' },
  { name: 'RELAY_LIVE_TIMEOUT_MS', key: 'liveTimeoutMs', type: 'integer', default: 15_000, min: 100, doc: 'time from `ready` to `live`' },
  // Long enough for an RTMP server to restart, short enough that viewers are still there.
  { name: 'RELAY_RECONNECT_WINDOW_MS', key: 'reconnectWindowMs', type: 'integer', default: 30_000, min: 0, doc: 'how long a session may try to be live again; 0: never' },
  // Each costs a slot and a publishing FFmpeg; three covers "my channel plus two platforms".
  { name: 'RELAY_MAX_DESTINATIONS', key: 'maxDestinations', type: 'integer', default: 3, min: 1, max: 10, doc: 'destinations one session may publish to' },
  { name: 'RELAY_INGEST_STALL_TIMEOUT_MS', key: 'ingestStallTimeoutMs', type: 'integer', default: 10_000, min: 100, doc: 'an ingest that takes nothing this long fails' },
  { name: 'RELAY_MAX_BUFFERED_BYTES', key: 'maxBufferedBytes', type: 'integer', default: 16 * MIB, min: 64 * 1024, max: 1024 * MIB, doc: 'most media held for one FFmpeg' },
  // An eighth of the construct's default 2 GiB task: sessions' queues are normally about 1 MiB
  // each (the high-water mark), so only ingests that stop keeping up ever come near it.
  { name: 'RELAY_MAX_TOTAL_BUFFERED_BYTES', key: 'maxTotalBufferedBytes', type: 'integer', default: 256 * MIB, min: 64 * 1024, doc: 'most media held for all FFmpeg processes' },
  { name: 'RELAY_SERVE_PAGE', key: 'servePage', type: 'switch', default: 'on', doc: 'serve the broadcaster page and its files' },
  { name: 'RELAY_COMPAT_ROUTE', key: 'compatRoute', type: 'switch', default: 'off', doc: 'the /rtmps/… compatibility route' },
  { name: 'RELAY_ALLOWED_ORIGINS', key: 'allowedOrigins', type: 'parsed', default: [], docDefault: '— (any origin)', parse: parseAllowedOrigins, doc: 'web origins whose pages may open sessions' },
  { name: 'RELAY_SERVICE_NAME', key: 'serviceName', type: 'string', default: 'transwrap-relay', doc: 'the `Service` dimension of every metric' },
  { name: 'RELAY_SCALE_IN_PROTECTION', key: 'scaleInProtection', type: 'switch', default: 'off', doc: 'hold ECS task scale-in protection while sessions run' },
  // Checked only when set: the default is the system bundle, and a relay that only publishes
  // rtmp:// needs none. (Without it every rtmps:// session fails verification: 4502.)
  { name: 'RELAY_INGEST_CA_FILE', key: 'ingestCaFile', type: 'parsed', default: DEFAULT_INGEST_CA_FILE, parse: (path) => problemThrown(caFileProblem(path), path), doc: 'the CAs trusted for rtmps:// ingests' },
  { name: 'ECS_AGENT_URI', key: 'ecsAgentUri', type: 'string', doc: 'set by ECS; where the task-protection endpoint lives' },
  // Off unless set: the benchmark's measurement of how long frames wait in the relay (delay-trace.ts).
  { name: 'RELAY_DELAY_TRACE_FILE', key: 'delayTraceFile', type: 'parsed', default: undefined, docDefault: '— (off)', parse: (path) => problemThrown(traceFileProblem(path), path), doc: 'where the per-frame delay trace is appended' },
];

/** `value`, or an Error saying `problem` about it. */
function problemThrown(problem: string | undefined, value: string): string {
  if (problem) throw new Error(`${problem}, got "${value}"`);
  return value;
}

/** What {@link VARIABLES} says one variable's value is, from the environment; a problem goes to `problems`. */
function parseVariable(spec: VariableSpec, raw: string | undefined, problems: string[]): unknown {
  switch (spec.type) {
    case 'string':
      return raw ?? spec.default;
    case 'integer': {
      const def = typeof spec.default === 'function' ? spec.default() : spec.default;
      if (raw === undefined) return def;
      const max = spec.max ?? Number.MAX_SAFE_INTEGER;
      if (!/^\d+$/.test(raw) || Number(raw) < spec.min || Number(raw) > max) {
        problems.push(`${spec.name}: expected an integer from ${spec.min} to ${max}, got "${raw}"`);
        return def;
      }
      return Number(raw);
    }
    case 'choice':
    case 'switch': {
      const values = spec.type === 'switch' ? ['on', 'off'] : spec.values;
      let value: string = spec.default;
      if (raw !== undefined && values.includes(raw)) value = raw;
      else if (raw !== undefined) problems.push(`${spec.name}: expected one of ${values.join('|')}, got "${raw}"`);
      return spec.type === 'switch' ? value === 'on' : value;
    }
    case 'parsed':
      if (raw === undefined) return spec.default;
      try {
        return spec.parse(raw);
      } catch (e) {
        problems.push(`${spec.name}: ${(e as Error).message}`);
        return spec.default;
      }
  }
}

/**
 * Parses and validates the relay's environment: each variable as {@link VARIABLES} says, then the
 * rules that tie several together. Collects every problem before failing so an operator fixes them
 * all in one round.
 * @throws ConfigError listing one line per bad variable
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): RelayConfig {
  const problems: string[] = [];
  const parsed: Record<string, unknown> = {};
  for (const spec of VARIABLES) {
    const value = env[spec.name];
    parsed[spec.key] = parseVariable(spec, value === undefined || value.trim() === '' ? undefined : value.trim(), problems);
  }
  const config = parsed as unknown as RelayConfig;
  const { host, tls, tlsCert, tlsKey, auth, authSecret, authJwksUrl, authIssuer, authAudience } = config;

  if (tls === 'provided') {
    if (!tlsCert || !tlsCert.includes('-----BEGIN ')) problems.push('RELAY_TLS_CERT: required PEM certificate when RELAY_TLS=provided');
    if (!tlsKey || !tlsKey.includes('-----BEGIN ')) problems.push('RELAY_TLS_KEY: required PEM private key when RELAY_TLS=provided');
  }
  // Plain ws is for development on the local machine only: a relay reachable from a network
  // without TLS would carry tokens and stream keys in clear text.
  if (tls === 'off' && !isLoopbackHost(host)) {
    problems.push(`RELAY_TLS: "off" is allowed only when RELAY_HOST is a loopback address, got RELAY_HOST="${host}"`);
  }
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
  if (config.ffmpegMemoryLimitMiB > 0 && Bun.which('prlimit', { PATH: env.PATH ?? process.env.PATH ?? '' }) === null) {
    problems.push('RELAY_FFMPEG_MEMORY_LIMIT_MB: needs util-linux\'s prlimit on PATH (it is in the image); set 0 to run FFmpeg without a limit');
  }
  if (config.maxBufferedBytes < config.maxMessageBytes) {
    problems.push(`RELAY_MAX_BUFFERED_BYTES: must be at least RELAY_MAX_MESSAGE_BYTES (${config.maxMessageBytes}), got ${config.maxBufferedBytes}`);
  }
  if (config.maxTotalBufferedBytes < config.maxBufferedBytes) {
    problems.push(`RELAY_MAX_TOTAL_BUFFERED_BYTES: must be at least RELAY_MAX_BUFFERED_BYTES (${config.maxBufferedBytes}), got ${config.maxTotalBufferedBytes}`);
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return config;
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
