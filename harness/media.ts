import { existsSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRelaySocket } from './ws-client';

/** The kinds of recordings browsers make. */
export type MediaKind = 'h264-opus-mkv' | 'vp8-opus-webm' | 'h264-aac-fmp4' | 'h264-aac-fmp4-250ms';

/** What {@link streamFile} saw. */
export interface StreamResult {
  /** Every text frame from the relay, parsed. */
  messages: any[];
  closeCode: number;
  closeReason: string;
  gotLive: boolean;
  stats: any[];
}

const CACHE = join(tmpdir(), 'transwrap-relay-test-media');
const pending = new Map<string, Promise<string>>();

const VIDEO_IN = ['-f', 'lavfi', '-i', 'testsrc=size=1280x720:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'];
const H264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-bf', '0', '-g', '60', '-keyint_min', '60', '-sc_threshold', '0', '-b:v', '2500k'];
const ARGS: Record<MediaKind, { ext: string; args: string[] }> = {
  'h264-opus-mkv': { ext: 'mkv', args: [...H264, '-c:a', 'libopus', '-b:a', '96k', '-ac', '2', '-f', 'matroska'] },
  'vp8-opus-webm': {
    ext: 'webm',
    args: ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '2500k', '-g', '60', '-keyint_min', '60',
      '-c:a', 'libopus', '-b:a', '96k', '-ac', '2', '-f', 'webm'],
  },
  'h264-aac-fmp4': {
    ext: 'mp4',
    args: [...H264, '-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-movflags', 'frag_keyframe+empty_moov+default_base_moof', '-f', 'mp4'],
  },
  // What Safari's MediaRecorder makes with a 250 ms timeslice: a fragment per slice, most not
  // starting at a key frame.
  'h264-aac-fmp4-250ms': {
    ext: 'mp4',
    args: [...H264, '-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-movflags', 'empty_moov+default_base_moof', '-frag_duration', '250000', '-f', 'mp4'],
  },
};

/**
 * Generates (once per kind and length, cached in a temp dir) a 1280x720 30 fps test clip with a
 * sine tone and a keyframe every 2 s, in the container and codecs a browser would record.
 */
export async function makeTestMedia(kind: MediaKind, seconds: number): Promise<string> {
  const { ext, args } = ARGS[kind];
  const path = join(CACHE, `${kind}-${seconds}s.${ext}`);
  if (existsSync(path)) return path;
  const inflight = pending.get(path);
  if (inflight) return inflight;
  const job = (async () => {
    await mkdir(CACHE, { recursive: true });
    // Written under a unique name and renamed, so parallel test files never read a partial clip.
    const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
    const proc = Bun.spawn(['ffmpeg', '-hide_banner', '-loglevel', 'error', '-nostdin', ...VIDEO_IN, '-t', String(seconds), ...args, '-y', tmp], {
      stdin: 'ignore', stdout: 'ignore', stderr: 'pipe',
    });
    const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    if (code !== 0) throw new Error(`ffmpeg could not make ${kind}: ${err}`);
    await rename(tmp, path);
    return path;
  })();
  pending.set(path, job);
  try {
    return await job;
  } finally {
    pending.delete(path);
  }
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
  /** Give up waiting for the close after this long (default 60 s). */
  timeoutMs?: number;
}

/**
 * A 10 s near-lossless H.264 + Opus Matroska clip (about 20 MB, 16 Mbit/s): enough to fill every
 * buffer between FFmpeg and a frozen ingest. Cached like {@link makeTestMedia}.
 */
export async function makeBigTestMedia(): Promise<string> {
  const path = join(CACHE, 'big-h264-opus-10s.mkv');
  if (existsSync(path)) return path;
  await mkdir(CACHE, { recursive: true });
  // A unique name, renamed into place: parallel runs never read a partial clip.
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  // testsrc2 (detailed, moving) so that lossless H.264 stays large.
  const proc = Bun.spawn(['ffmpeg', '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '10', '-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '0', '-g', '60', '-bf', '0', '-pix_fmt', 'yuv420p',
    '-c:a', 'libopus', '-f', 'matroska', '-y', tmp], { stderr: 'pipe' });
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`ffmpeg could not make the big clip: ${err}`);
  await rename(tmp, path);
  return path;
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
  await ready;

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
