// A client in its own process (child-client-main.ts), for faults that need one: a client that
// vanishes (SIGKILL: the relay only sees the TCP connection drop) or freezes (SIGSTOP: it reads and
// sends nothing, like a suspended tab). Used by the relay tests and the bench's soak.
import { join } from 'node:path';
import type { Subprocess } from 'bun';

/** What the child reports last: how its connection ended. */
export interface ChildResult {
  readonly closeCode: number;
  /** The `code` of the relay's `error` frame, if one came. */
  readonly errorCode?: string;
  /** Set when the client could not do its job (no `ready`, no close in time). */
  readonly failure?: string;
}

/** Options of {@link startChildClient}. */
export interface ChildClientOptions {
  readonly wsUrl: string;
  /** The start message (docs/protocol.md#start-message). */
  readonly start: object;
  /** The clip streamed after `ready`, paced to real time (harness/media.ts `streamFile`), then `stop`. */
  readonly file: string;
  readonly seconds: number;
  /** The timeslice: a chunk every this many ms (default 250). */
  readonly chunkMs?: number;
  /** SIGKILL the child after this long, whatever it is doing (default 120 s): every promise below settles by then. */
  readonly timeoutMs?: number;
}

/** A client running in its own process, and what it has said so far. */
export interface ChildClient {
  readonly proc: Subprocess<'ignore', 'pipe', 'inherit'>;
  /** Resolves with the relay's session id once `ready` arrived (undefined if the process ended first). */
  readonly ready: Promise<string | undefined>;
  /** Resolves once `live` arrived (false if the process ended first). */
  readonly live: Promise<boolean>;
  /** Resolves with the child's result, or undefined when it was killed first. */
  readonly result: Promise<ChildResult | undefined>;
  /** The `code` of the relay's `error` frame, once one arrived. */
  errorCode(): string | undefined;
}

const MAIN = join(import.meta.dir, 'child-client-main.ts');

/** Starts a child process streaming `opts.file` through the relay at `opts.wsUrl`. */
export function startChildClient(opts: ChildClientOptions): ChildClient {
  const args = [opts.wsUrl, JSON.stringify(opts.start), opts.file, String(opts.seconds), String(opts.chunkMs ?? 250)];
  const proc = Bun.spawn([process.execPath, MAIN, ...args], { stdin: 'ignore', stdout: 'pipe', stderr: 'inherit' });
  const timer = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
  let onReady: (session: string | undefined) => void = () => {};
  let onLive: (live: boolean) => void = () => {};
  const ready = new Promise<string | undefined>((resolve) => (onReady = resolve));
  const live = new Promise<boolean>((resolve) => (onLive = resolve));
  let errorCode: string | undefined;
  const result = (async () => {
    let last: ChildResult | undefined;
    let partial = '';
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) {
      const lines = (partial + decoder.decode(chunk, { stream: true })).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines.filter((l) => l.length > 0)) {
        const msg = JSON.parse(line);
        if (msg.type === 'ready') onReady(msg.session);
        if (msg.type === 'live') onLive(true);
        if (msg.type === 'error') errorCode = msg.code;
        if (msg.type === 'result') last = { closeCode: msg.closeCode, errorCode: msg.errorCode, failure: msg.failure };
      }
    }
    await proc.exited;
    clearTimeout(timer);
    onReady(undefined);
    onLive(false);
    return last;
  })();
  return { proc, ready, live, result, errorCode: () => errorCode };
}
