import { join } from 'node:path';
import type { Subprocess } from 'bun';

/** A publisher running in its own process (see client-child.ts), and what it has said so far. */
export interface ChildClient {
  proc: Subprocess<'ignore', 'pipe', 'inherit'>;
  /** Resolves with the relay's session id once `ready` arrived (undefined if it never did). */
  ready: Promise<string | undefined>;
  /** Resolves once `live` arrived (false if the process ended first). */
  live: Promise<boolean>;
  /** Resolves with the final result line, or undefined when the process was killed first. */
  result: Promise<{ closeCode: number; errorCode?: string; failure?: string } | undefined>;
  /** The `code` of the relay's `error` frame, once one arrived. */
  errorCode(): string | undefined;
}

const SCRIPT = join(import.meta.dir, 'client-child.ts');

/** Starts a child publisher streaming `clipPath` through the relay. */
export function startChildClient(wsUrl: string, start: object, clipPath: string, clipSeconds: number, chunkMs: number): ChildClient {
  const proc = Bun.spawn([process.execPath, SCRIPT, wsUrl, JSON.stringify(start), clipPath, String(clipSeconds), String(chunkMs)], {
    stdin: 'ignore', stdout: 'pipe', stderr: 'inherit',
  });
  let onReady: (s: string | undefined) => void = () => {};
  let onLive: (b: boolean) => void = () => {};
  const ready = new Promise<string | undefined>((r) => (onReady = r));
  const live = new Promise<boolean>((r) => (onLive = r));
  let errorCode: string | undefined;
  const result = (async () => {
    let last: any;
    let buf = '';
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) {
      buf += decoder.decode(chunk, { stream: true });
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const line of lines) {
        if (!line) continue;
        const msg = JSON.parse(line);
        if (msg.type === 'ready') onReady(msg.session);
        if (msg.type === 'live') onLive(true);
        if (msg.type === 'error') errorCode = msg.code;
        if (msg.type === 'result') last = msg;
      }
    }
    await proc.exited;
    onReady(undefined);
    onLive(false);
    return last;
  })();
  return { proc, ready, live, result, errorCode: () => errorCode };
}
