// Streaming a clip (clips.ts makes them) over the relay protocol as the browser client does.
import { openRelaySocket } from './ws-client';

/** What {@link streamFile} saw. */
export interface StreamResult {
  /** Every text frame from the relay, parsed. */
  messages: any[];
  closeCode: number;
  closeReason: string;
  gotLive: boolean;
  stats: any[];
}

/** A file's duration in seconds, from ffprobe. */
export async function mediaDuration(file: string): Promise<number> {
  const proc = Bun.spawn(['ffprobe', '-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file], {
    stdout: 'pipe', stderr: 'ignore',
  });
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  return Number.parseFloat(out.trim());
}

/** Options for {@link streamFile}. */
export interface StreamOptions {
  /** Chunk period, like MediaRecorder's timeslice (default 250 ms). */
  chunkMs?: number;
  /** Pace chunks to real time (default true); otherwise send as fast as the socket takes them. */
  realtime?: boolean;
  /** Media duration used for pacing (default: probed). */
  seconds?: number;
  /** Send `stop` after the last chunk and wait for `ended` (default true); otherwise just wait for the close. */
  stopAtEnd?: boolean;
  /** Called for every text frame from the relay. */
  onMessage?: (msg: any, ws: WebSocket) => void;
  /** Stop sending after this many bytes (the rest of the file is never sent). */
  maxBytes?: number;
  /** Give up waiting for `ready`, and then for the close, after this long each (default 60 s). */
  timeoutMs?: number;
}

/**
 * Streams a file over the relay protocol like the browser client: start → wait for `ready` →
 * chunks paced to real time → `stop` → wait for `ended` and the close.
 */
export async function streamFile(wsUrl: string, start: object, file: string, opts: StreamOptions = {}): Promise<StreamResult> {
  const chunkMs = opts.chunkMs ?? 250;
  const realtime = opts.realtime ?? true;
  const stopAtEnd = opts.stopAtEnd ?? true;
  const bytes = new Uint8Array(await Bun.file(file).arrayBuffer());
  const total = Math.min(bytes.byteLength, opts.maxBytes ?? Number.POSITIVE_INFINITY);
  const seconds = opts.seconds ?? (await mediaDuration(file));
  const chunkSize = Math.max(1, Math.ceil((bytes.byteLength * chunkMs) / (seconds * 1000)));

  const result: StreamResult = { messages: [], closeCode: 0, closeReason: '', gotLive: false, stats: [] };
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const socket = await openRelaySocket(wsUrl, (msg, ws) => {
    result.messages.push(msg);
    if (msg.type === 'ready') onReady();
    if (msg.type === 'live') result.gotLive = true;
    if (msg.type === 'stats') result.stats.push(msg);
    opts.onMessage?.(msg, ws);
  }, () => onReady());
  const { ws, isClosed } = socket;
  ws.send(JSON.stringify(start));
  const readyMs = opts.timeoutMs ?? 60_000;
  const answered = await Promise.race([ready.then(() => true), Bun.sleep(readyMs).then(() => false)]);
  if (!answered) {
    ws.close();
    throw new Error(`relay neither sent ready nor closed within ${readyMs} ms; messages: ${JSON.stringify(result.messages)}`);
  }

  if (!isClosed()) {
    const t0 = performance.now();
    for (let offset = 0, i = 0; offset < total && !isClosed(); offset += chunkSize, i++) {
      if (realtime) {
        const due = t0 + i * chunkMs;
        const wait = due - performance.now();
        if (wait > 0) await Bun.sleep(wait);
      } else if (ws.bufferedAmount > 4 * 1024 * 1024) {
        await Bun.sleep(5);
      }
      if (isClosed()) break;
      ws.send(bytes.subarray(offset, Math.min(offset + chunkSize, total)));
    }
    if (!isClosed() && stopAtEnd) ws.send(JSON.stringify({ type: 'stop' }));
  }
  Object.assign(result, await socket.closedWithin(opts.timeoutMs ?? 60_000, () => JSON.stringify(result.messages.slice(-5))));
  return result;
}
