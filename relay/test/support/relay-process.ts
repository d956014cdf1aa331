import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitFor } from './ports.ts';

/** A relay started as its own process, exactly as the image runs it. */
export interface RelayProcess {
  port: number;
  httpUrl: string;
  /** `ws://127.0.0.1:<port>/v1/stream` (`wss://` with TLS on). */
  wsUrl: string;
  /** All stdout and stderr so far. */
  output(): string;
  /** Pids of ffmpeg processes whose parent is the relay (zombies included, until reaped). */
  ffmpegChildren(): number[];
  signal(sig: NodeJS.Signals | number): void;
  /** Resolves with the exit code. */
  exited: Promise<number>;
  /** Kills the relay (SIGKILL if SIGTERM does not end it in 5 s) and waits for it. */
  stop(): Promise<void>;
  pid: number;
}

/** The repository root, where `bun relay/src/main.ts` is run from. */
export const REPO_ROOT = join(import.meta.dir, '..', '..', '..');
export const MAIN = join(REPO_ROOT, 'relay', 'src', 'main.ts');

/** The environment a relay child starts from: the test's own, without any RELAY_* variable. */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('RELAY_')) env[k] = v;
  return env;
}

/**
 * Runs `bun relay/src/main.ts` on a free loopback port (`RELAY_HOST=127.0.0.1`, `RELAY_TLS=off`
 * unless `env` says otherwise) and waits until `/healthz` answers.
 */
export async function startRelay(env: Record<string, string>): Promise<RelayProcess> {
  const port = env.RELAY_PORT ? Number(env.RELAY_PORT) : await freePort();
  const fullEnv = { ...baseEnv(), RELAY_HOST: '127.0.0.1', RELAY_TLS: 'off', ...env, RELAY_PORT: String(port) };
  const tls = fullEnv.RELAY_TLS !== 'off';
  const proc = Bun.spawn([process.execPath, MAIN], { cwd: REPO_ROOT, env: fullEnv, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
  let out = '';
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) out += decoder.decode(chunk, { stream: true });
  };
  const drained = Promise.all([collect(proc.stdout), collect(proc.stderr)]);
  const exited = proc.exited.then(async (code) => {
    await drained;
    return code;
  });
  const httpUrl = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  let exitCode: number | undefined;
  void exited.then((c) => (exitCode = c));
  try {
    await waitFor(async () => {
      if (exitCode !== undefined) throw new Error(`relay exited with ${exitCode} before listening:\n${out}`);
      try {
        const res = await fetch(`${httpUrl}/healthz`, { tls: { rejectUnauthorized: false } });
        return res.status === 200;
      } catch {
        return false;
      }
    }, 15_000, 'the relay to answer /healthz');
  } catch (e) {
    proc.kill('SIGKILL');
    await exited;
    throw e;
  }
  return {
    port,
    pid: proc.pid,
    httpUrl,
    wsUrl: `${tls ? 'wss' : 'ws'}://127.0.0.1:${port}/v1/stream`,
    output: () => out,
    ffmpegChildren: () => childrenNamed(proc.pid, 'ffmpeg'),
    signal: (sig) => proc.kill(sig),
    exited,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return void (await exited);
      proc.kill('SIGTERM');
      const done = await Promise.race([exited.then(() => true), Bun.sleep(5000).then(() => false)]);
      if (!done) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** Pids of the processes whose parent is `ppid` and whose command name is `name`. */
export function childrenNamed(ppid: number, name: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat && stat.ppid === ppid && stat.comm === name) pids.push(Number(entry));
  }
  return pids;
}

/** Whether a pid still exists as a process named `name` (zombies included). */
export function isProcessAlive(pid: number, name = 'ffmpeg'): boolean {
  return readStat(pid)?.comm === name;
}

/** Whether a pid is a running (not zombie) process named `name`: an orphan that outlived its parent. */
export function isProcessRunning(pid: number, name = 'ffmpeg'): boolean {
  const stat = readStat(pid);
  return stat?.comm === name && stat.state !== 'Z';
}

function readStat(pid: number): { comm: string; state: string; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm is in parentheses and may itself contain spaces or parentheses.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const [state, ppid] = stat.slice(close + 2).split(' ');
    return { comm, state: state!, ppid: Number(ppid) };
  } catch {
    return undefined;
  }
}
