// The one place test clips are made: relay tests, the e2e checks and the bench all stream files
// FFmpeg encodes here from its own test sources (lavfi), each from a recipe, cached by name.
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How one clip is encoded: FFmpeg's test sources in, the recorder's container and codecs out. */
export interface ClipRecipe {
  /** Names the cached file, with the length: two recipes never share a name. */
  readonly name: string;
  readonly ext: 'mkv' | 'webm' | 'mp4';
  /** The lavfi video source, such as `testsrc=size=1280x720:rate=30`. */
  readonly video: string;
  /** The lavfi audio source; default a 440 Hz tone at 48 kHz. */
  readonly audio?: string;
  /** FFmpeg's output options: codecs, rates, key frames, container. */
  readonly encode: readonly string[];
}

/** The kinds of recordings browsers make, as the relay tests stream them. */
export type MediaKind = 'h264-opus-mkv' | 'vp8-opus-webm' | 'h264-aac-fmp4' | 'h264-aac-fmp4-250ms';

const CACHE = join(tmpdir(), 'transwrap-relay-test-media');
/** An encode of a minute of 720p takes seconds on two idle cores; this bounds a busy machine's. */
const ENCODE_TIMEOUT_MS = 180_000;
const TONE = 'sine=frequency=440:sample_rate=48000';
const TESTSRC_720P = 'testsrc=size=1280x720:rate=30';
const pending = new Map<string, Promise<string>>();

/** Chrome's MediaRecorder: H.264 without B-frames, a key frame every 2 s (the client asks for it). */
export const H264_2S_GOP = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-bf', '0', '-g', '60', '-keyint_min', '60', '-sc_threshold', '0'];
const OPUS = ['-c:a', 'libopus', '-b:a', '96k', '-ac', '2'];
const AAC = ['-c:a', 'aac', '-b:a', '128k', '-ac', '2'];

/** 1280x720 30 fps testsrc and a tone, 2.5 Mbit/s video, in the container and codecs each browser records. */
export const TEST_CLIPS: Record<MediaKind, ClipRecipe> = {
  'h264-opus-mkv': { name: 'h264-opus-mkv', ext: 'mkv', video: TESTSRC_720P, encode: [...H264_2S_GOP, '-b:v', '2500k', ...OPUS, '-f', 'matroska'] },
  'vp8-opus-webm': {
    name: 'vp8-opus-webm',
    ext: 'webm',
    video: TESTSRC_720P,
    encode: ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '2500k', '-g', '60', '-keyint_min', '60', ...OPUS, '-f', 'webm'],
  },
  'h264-aac-fmp4': {
    name: 'h264-aac-fmp4',
    ext: 'mp4',
    video: TESTSRC_720P,
    encode: [...H264_2S_GOP, '-b:v', '2500k', ...AAC, '-movflags', 'frag_keyframe+empty_moov+default_base_moof', '-f', 'mp4'],
  },
  // What Safari's MediaRecorder makes with a 250 ms timeslice: a fragment per slice, most not
  // starting at a key frame.
  'h264-aac-fmp4-250ms': {
    name: 'h264-aac-fmp4-250ms',
    ext: 'mp4',
    video: TESTSRC_720P,
    encode: [...H264_2S_GOP, '-b:v', '2500k', ...AAC, '-movflags', 'empty_moov+default_base_moof', '-frag_duration', '250000', '-f', 'mp4'],
  },
};

/**
 * A near-lossless H.264 + Opus Matroska clip (about 2 MB a second, 16 Mbit/s): enough to fill every
 * buffer between FFmpeg and a frozen ingest. testsrc2 (detailed, moving) so that lossless H.264 stays large.
 */
export const BIG_CLIP: ClipRecipe = {
  name: 'big-h264-opus',
  ext: 'mkv',
  video: 'testsrc2=size=1280x720:rate=30',
  encode: ['-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '0', '-g', '60', '-bf', '0', '-pix_fmt', 'yuv420p', '-c:a', 'libopus', '-f', 'matroska'],
};

/**
 * Chromium's MediaRecorder under load: H.264 + Opus Matroska in which every 30th frame carries the
 * timestamp of the frame before it (two frames stamped with one millisecond).
 */
export const EQUAL_STAMPS_CLIP: ClipRecipe = {
  name: 'h264-opus-mkv-equal-stamps',
  ext: 'mkv',
  video: TESTSRC_720P,
  encode: [...H264_2S_GOP, '-b:v', '2500k', '-bsf:v', 'setts=ts=if(eq(mod(N\\,30)\\,1)\\,PREV_OUTPTS\\,TS)', ...OPUS, '-f', 'matroska'],
};

/**
 * The path of `recipe` encoded for `seconds`, made once and cached in a temp dir (also across runs);
 * concurrent callers share one encode. Fails, naming the clip, when FFmpeg fails or runs past its bound.
 */
export async function makeClip(recipe: ClipRecipe, seconds: number): Promise<string> {
  const path = join(CACHE, `${recipe.name}-${seconds}s.${recipe.ext}`);
  if (existsSync(path)) return path;
  const inflight = pending.get(path);
  if (inflight) return inflight;
  const job = encode(recipe, seconds, path);
  pending.set(path, job);
  try {
    return await job;
  } finally {
    pending.delete(path);
  }
}

/** A recording of a browser's kind (`kind`), `seconds` long: {@link makeClip} of {@link TEST_CLIPS}. */
export function makeTestMedia(kind: MediaKind, seconds: number): Promise<string> {
  return makeClip(TEST_CLIPS[kind], seconds);
}

/** {@link BIG_CLIP}, 10 s (about 20 MB). */
export function makeBigTestMedia(): Promise<string> {
  return makeClip(BIG_CLIP, 10);
}

async function encode(recipe: ClipRecipe, seconds: number, path: string): Promise<string> {
  await mkdir(CACHE, { recursive: true });
  // Written under a unique name and renamed, so parallel test files (and runs) never read a partial clip.
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  const proc = Bun.spawn(['ffmpeg', '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-f', 'lavfi', '-i', recipe.video, '-f', 'lavfi', '-i', recipe.audio ?? TONE, '-t', String(seconds), ...recipe.encode, '-y', tmp], {
    stdin: 'ignore', stdout: 'ignore', stderr: 'pipe',
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), ENCODE_TIMEOUT_MS);
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]).finally(() => clearTimeout(timer));
  if (code !== 0) {
    await rm(tmp, { force: true });
    const why = proc.signalCode === 'SIGKILL' ? `did not finish within ${ENCODE_TIMEOUT_MS} ms` : `failed (exit ${code}): ${err}`;
    throw new Error(`ffmpeg making the ${recipe.name} clip (${seconds} s) ${why}`);
  }
  await rename(tmp, path);
  return path;
}
