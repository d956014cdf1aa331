import { offsetAt, type Clip } from './media.ts';

/** How one synthetic publisher behaves. */
export interface PublishOptions {
  wsUrl: string;
  /** The start message (docs/protocol.md#start-message). */
  start: { type: 'start'; token?: string; ingest: string; streamKey: string; mimeType: string };
  clip: Clip;
  /** MediaRecorder timeslice: a chunk is sent every this many ms, holding the media recorded in it. */
  chunkMs: number;
  /** A frame sent instead of the chunk due at this time after `ready` (fault injection). */
  inject?: { afterMs: number; frame: string | Uint8Array<ArrayBuffer> };
  /** Stream only the media up to this time (seconds), as if the recorder stopped then (default: the whole clip). */
  untilSeconds?: number;
  /** Chunks due from this time on (performance.now ms) count towards `windowMaxSlipMs`. */
  windowFrom?: number;
  /** Send `stop` after the last chunk (default true). */
  stopAtEnd?: boolean;
  /** Give up waiting for the close this long after the last chunk (default 30 s). */
  closeTimeoutMs?: number;
  onMessage?: (msg: any) => void;
}

/** What one publisher saw, with timestamps in ms (performance.now) and durations in ms. */
export interface PublishResult {
  key: string;
  session?: string;
  pipeline?: string;
  startSentAt: number;
  readyAt?: number;
  liveAt?: number;
  stopSentAt?: number;
  endedAt?: number;
  closedAt?: number;
  closeCode: number;
  errorCode?: string;
  /** `start` sent → `live` received. Includes the first timeslice, as a browser's would. */
  startToLiveMs?: number;
  /** `stop` sent → `ended` received: how far FFmpeg was behind when the client finished. */
  stopToEndedMs?: number;
  sentBytes: number;
  sentChunks: number;
  /** The latest a chunk went out after it was due: above a few ms, the publisher itself fell behind. */
  maxSlipMs: number;
  /** The same, for chunks due from `windowFrom` on. */
  windowMaxSlipMs: number;
  /** The most the client's socket had queued and not yet sent. */
  maxBufferedAmount: number;
  stats: any[];
  /** Set when the publisher could not do its job (connect failure, close timeout). */
  failure?: string;
}

/**
 * Streams a clip over the relay protocol like the browser client: start → wait for `ready` →
 * chunks paced to real time, each holding the media of one timeslice → `stop` → `ended` → close.
 */
export async function publish(opts: PublishOptions): Promise<PublishResult> {
  const { clip, chunkMs } = opts;
  const r: PublishResult = {
    key: opts.start.streamKey,
    startSentAt: 0,
    closeCode: 0,
    sentBytes: 0,
    sentChunks: 0,
    maxSlipMs: 0,
    windowMaxSlipMs: 0,
    maxBufferedAmount: 0,
    stats: [],
  };
  const ws = new WebSocket(opts.wsUrl);
  ws.binaryType = 'arraybuffer';
  let closed = false;
  let wake: () => void = () => {};
  const closedP = new Promise<void>((resolve) => {
    ws.onclose = (ev) => {
      closed = true;
      r.closedAt = performance.now();
      r.closeCode = ev.code;
      wake();
      resolve();
    };
  });
  ws.onmessage = (ev) => {
    if (typeof ev.data !== 'string') return;
    const msg = JSON.parse(ev.data);
    const now = performance.now();
    if (msg.type === 'ready') {
      r.readyAt = now;
      r.session = msg.session;
      r.pipeline = msg.pipeline;
      wake();
    } else if (msg.type === 'live') {
      r.liveAt = now;
      r.startToLiveMs = now - r.startSentAt;
    } else if (msg.type === 'stats') {r.stats.push({ ...msg, at: now });} else if (msg.type === 'ended') {
      r.endedAt = now;
      if (r.stopSentAt !== undefined) r.stopToEndedMs = now - r.stopSentAt;
    } else if (msg.type === 'error') {r.errorCode = msg.code;}
    opts.onMessage?.(msg);
  };
  try {
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error('could not connect'));
    });
  } catch (e) {
    r.failure = (e as Error).message;
    return r;
  }
  ws.onerror = null;
  r.startSentAt = performance.now();
  ws.send(JSON.stringify(opts.start));
  await new Promise<void>((resolve) => {
    wake = resolve;
    if (closed) resolve();
  });

  if (!closed) {
    const t0 = r.readyAt!;
    const total = opts.untilSeconds === undefined ? clip.bytes.byteLength : offsetAt(clip, opts.untilSeconds);
    const lastSlice = opts.untilSeconds === undefined ? Number.POSITIVE_INFINITY : opts.untilSeconds;
    let sent = 0;
    let injected = false;
    for (let i = 1; sent < total && !closed; i++) {
      const due = t0 + i * chunkMs;
      const wait = due - performance.now();
      if (wait > 0) await Bun.sleep(wait);
      if (closed) break;
      r.maxSlipMs = Math.max(r.maxSlipMs, performance.now() - due);
      if (opts.windowFrom !== undefined && due >= opts.windowFrom) r.windowMaxSlipMs = Math.max(r.windowMaxSlipMs, performance.now() - due);
      if (opts.inject && !injected && i * chunkMs >= opts.inject.afterMs) {
        injected = true;
        ws.send(opts.inject.frame);
        continue;
      }
      const end = Math.min(total, offsetAt(clip, Math.min((i * chunkMs) / 1000, lastSlice)));
      if (end <= sent) continue; // nothing recorded in this slice (cannot happen with 30 fps video, but cheap to allow)
      ws.send(clip.bytes.subarray(sent, end));
      r.sentBytes += end - sent;
      r.sentChunks++;
      sent = end;
      r.maxBufferedAmount = Math.max(r.maxBufferedAmount, ws.bufferedAmount);
    }
    if (!closed && (opts.stopAtEnd ?? true)) {
      r.stopSentAt = performance.now();
      ws.send(JSON.stringify({ type: 'stop' }));
    }
  }
  const timeoutMs = opts.closeTimeoutMs ?? 30_000;
  const timedOut = await Promise.race([closedP.then(() => false), Bun.sleep(timeoutMs).then(() => true)]);
  if (timedOut) {
    r.failure = `no close within ${timeoutMs} ms`;
    ws.close();
  }
  return r;
}
