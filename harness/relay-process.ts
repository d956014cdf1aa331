// The one way tests, the benchmark and the demo start a relay: `bun relay/src/main.ts` as its own
// process, exactly as the image runs it. Node APIs only: jest loads this module too.
import { spawn } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { constants } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './ports';
import { childrenNamed } from './proc';
import { HEALTH_PATH, STREAM_PATH } from '../src/relay-paths';

/** The repository root, where `bun relay/src/main.ts` is run from. */
export const REPO_ROOT = join(__dirname, '..');
export const MAIN = join(REPO_ROOT, 'relay', 'src', 'main.ts');
/** Bun itself under Bun; the `bun` npm package's binary under Node (jest). */
const BUN = process.versions.bun ? process.execPath : join(REPO_ROOT, 'node_modules', '.bin', 'bun');

/** One parsed output line of the relay (docs/telemetry.md#logs); non-JSON output is kept as `raw`. */
export interface RelayLogLine {
  readonly level?: string;
  readonly msg?: string;
  readonly session?: string;
  readonly raw?: string;
  readonly [field: string]: unknown;
}

/** A relay started by {@link startRelay}. */
export interface RelayProcess {
  readonly pid: number;
  readonly port: number;
  /** `http(s)://<RELAY_HOST>:<port>` (127.0.0.1 unless told). */
  readonly httpUrl: string;
  /** `ws(s)://<RELAY_HOST>:<port>/v1/stream`. */
  readonly wsUrl: string;
  /** Every output line so far, parsed. */
  readonly logs: readonly RelayLogLine[];
  /** Resolves with the exit code (128 + the signal's number when a signal ended it). */
  readonly exited: Promise<number>;
  /** All stdout and stderr so far. */
  output(): string;
  /**
   * Pids of FFmpeg processes whose parent is the relay (zombies included, until reaped). With
   * RELAY_FFMPEG_MEMORY_LIMIT_MB the relay spawns util-linux's `prlimit`, which sets the limit and
   * execs FFmpeg in the same pid: a child still named `prlimit` is an FFmpeg being started and counts,
   * so a count taken right after `ready` does not depend on how fast a busy machine runs the exec.
   */
  ffmpegChildren(): number[];
  /** The pid of the FFmpeg the relay spawned for `session`, from its `session ready` log line. */
  ffmpegPidOf(session: string): number | undefined;
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM (the relay drains), SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number>;
}

export interface StartRelayOptions {
  /** Called with each output line as it arrives. */
  readonly onLine?: (line: string) => void;
  /** Start the relay in its own process group, so a terminal's Ctrl-C reaches only its parent. */
  readonly detached?: boolean;
  /**
   * Wraps the relay's command line, e.g. a shaped link's `inside` to run it in that link's network
   * namespace (harness/shaped-link.ts). The wrapper must exec the command in the same pid.
   */
  readonly launch?: (argv: string[]) => string[];
}

/** The environment a relay child starts from: this process's own, without any RELAY_* variable. */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('RELAY_')) env[k] = v;
  return env;
}

/**
 * Runs the relay on loopback (`RELAY_HOST=127.0.0.1`, `RELAY_TLS=off` and a free `RELAY_PORT`
 * unless `env` says otherwise, docs/configuration.md#variables) and waits until `/healthz` answers.
 * The URLs it returns name `RELAY_HOST`.
 */
export async function startRelay(env: Record<string, string>, options: StartRelayOptions = {}): Promise<RelayProcess> {
  const port = env.RELAY_PORT ? Number(env.RELAY_PORT) : await freePort();
  const fullEnv = { ...baseEnv(), RELAY_HOST: '127.0.0.1', RELAY_TLS: 'off', ...env, RELAY_PORT: String(port) };
  const tls = fullEnv.RELAY_TLS !== 'off';
  const [command, ...args] = options.launch ? options.launch([BUN, MAIN]) : [BUN, MAIN];
  const child = spawn(command!, args, { cwd: REPO_ROOT, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached });
  let out = '';
  const logs: RelayLogLine[] = [];
  const collect = (stream: NodeJS.ReadableStream) => {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      out += chunk;
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines.filter((l) => l.length > 0)) {
        logs.push(parseLine(line));
        options.onLine?.(line);
      }
    });
    return new Promise<void>((resolve) => stream.on('end', resolve));
  };
  const drained = Promise.all([collect(child.stdout!), collect(child.stderr!)]);
  let exitCode: number | undefined;
  const exited = new Promise<number>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  }).then(async (code) => {
    await drained;
    exitCode = code;
    return code;
  });
  // A relay listening on every address is reached on loopback.
  const listen = fullEnv.RELAY_HOST === '0.0.0.0' || fullEnv.RELAY_HOST === '::' ? '127.0.0.1' : fullEnv.RELAY_HOST;
  const host = listen.includes(':') ? `[${listen}]` : listen;
  const httpUrl = `${tls ? 'https' : 'http'}://${host}:${port}`;
  try {
    await waitFor(async () => {
      if (exitCode !== undefined) throw new Error(`relay exited with ${exitCode} before listening:\n${out}`);
      return (await healthStatus(httpUrl)) === 200;
    }, 15_000, 'the relay to answer /healthz');
  } catch (e) {
    child.kill('SIGKILL');
    await exited;
    throw e;
  }
  return {
    pid: child.pid!,
    port,
    httpUrl,
    wsUrl: `${tls ? 'wss' : 'ws'}://${host}:${port}${STREAM_PATH}`,
    output: () => out,
    logs,
    ffmpegChildren: () => [...childrenNamed(child.pid!, 'ffmpeg'), ...childrenNamed(child.pid!, 'prlimit')],
    ffmpegPidOf: (session) => logs.find((l) => l.msg === 'session ready' && l.session === session)?.ffmpegPid as number | undefined,
    signal: (sig) => child.kill(sig),
    exited,
    async stop(graceMs = 5000) {
      if (exitCode === undefined) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      return exited;
    },
  };
}

function parseLine(line: string): RelayLogLine {
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value === 'object' && value !== null && 'msg' in value) return value as RelayLogLine;
  } catch {
    // Not JSON: kept as it is.
  }
  return { raw: line };
}

/** The status of `GET /healthz`, or 0 when nothing answers. Self-signed certificates are accepted. */
function healthStatus(httpUrl: string): Promise<number> {
  const get = httpUrl.startsWith('https:') ? httpsGet : httpGet;
  return new Promise((resolve) => {
    get(`${httpUrl}${HEALTH_PATH}`, { rejectUnauthorized: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', () => resolve(0)).on('timeout', function (this: { destroy(): void }) {
      this.destroy();
    });
  });
}
