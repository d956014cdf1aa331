import type { Subprocess } from 'bun';
import { join } from 'node:path';
import { freePort, waitFor } from '../../relay/test/support/ports.ts';
import { baseEnv, MAIN, REPO_ROOT } from '../../relay/test/support/relay-process.ts';
import { childrenOf, type ProcStat } from './proc.ts';

/** A relay process started by the harness, with its JSON log lines parsed as they arrive. */
export interface LaunchedRelay {
  pid: number;
  port: number;
  wsUrl: string;
  httpUrl: string;
  /** Every JSON log line so far, parsed (non-JSON lines are kept as `{ raw }`). */
  logs: any[];
  /** The FFmpeg pid of a session, from its `session ready` line. */
  ffmpegPidOf(session: string): number | undefined;
  /** FFmpeg processes whose parent is the relay (zombies included). */
  ffmpegChildren(): ProcStat[];
  exited: Promise<number>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the relay has exited. */
  stop(graceMs?: number): Promise<number>;
}

/** The benchmark's in-relay delay probe, for `preload`. */
export const DELAY_PROBE = join(import.meta.dir, 'delay-probe.ts');

/**
 * Starts `bun [--preload …] relay/src/main.ts` on a free loopback port (plain ws, `env` on top
 * of the relay's defaults) and waits for /healthz. The test support's startRelay does the same
 * without preloads or parsed logs.
 */
export async function launchRelay(env: Record<string, string>, preload: string[] = []): Promise<LaunchedRelay> {
  const port = await freePort();
  const fullEnv = { ...baseEnv(), RELAY_HOST: '127.0.0.1', RELAY_TLS: 'off', RELAY_SERVE_PAGE: 'off', ...env, RELAY_PORT: String(port) };
  const args = preload.flatMap((p) => ['--preload', p]);
  const proc: Subprocess<'ignore', 'pipe', 'pipe'> = Bun.spawn([process.execPath, ...args, MAIN], {
    cwd: REPO_ROOT, env: fullEnv, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe',
  });
  const logs: any[] = [];
  const readyPids = new Map<string, number>();
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of stream) {
      buf += decoder.decode(chunk, { stream: true });
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const line of lines) {
        if (!line) continue;
        let obj: any;
        try {
          obj = JSON.parse(line);
        } catch {
          obj = { raw: line };
        }
        logs.push(obj);
        if (obj.msg === 'session ready') readyPids.set(obj.session, obj.ffmpegPid);
      }
    }
  };
  const drained = Promise.all([collect(proc.stdout), collect(proc.stderr)]);
  const exited = proc.exited.then(async (code) => {
    await drained;
    return code;
  });
  const httpUrl = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => {
      if (proc.exitCode !== null) throw new Error(`relay exited with ${proc.exitCode}: ${JSON.stringify(logs.slice(-5))}`);
      try {
        return (await fetch(`${httpUrl}/healthz`)).status === 200;
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
    pid: proc.pid,
    port,
    httpUrl,
    wsUrl: `ws://127.0.0.1:${port}/v1/stream`,
    logs,
    ffmpegPidOf: (session) => readyPids.get(session),
    ffmpegChildren: () => childrenOf(proc.pid, 'ffmpeg'),
    exited,
    async stop(graceMs = 10_000) {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const done = await Promise.race([exited.then(() => true), Bun.sleep(graceMs).then(() => false)]);
        if (!done) proc.kill('SIGKILL');
      }
      return exited;
    },
  };
}
