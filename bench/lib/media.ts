import { H264_2S_GOP, makeClip as makeClipFile, type ClipRecipe } from '../../harness/clips.ts';

/**
 * The recordings the benchmark streams: Chrome's H.264 + Opus Matroska (copy pipeline), H.264 + AAC
 * fragmented MP4 as Safari and Chrome on macOS/Windows record it (full copy: no encoder at all), and
 * VP8 WebM (transcode pipeline).
 */
export type ClipKind = 'h264' | 'h264-aac' | 'vp8';

/** A clip ready to be streamed: its bytes and where each moment of media ends in them. */
export interface Clip {
  path: string;
  kind: ClipKind;
  /** What a browser's `MediaRecorder.mimeType` says for this recording. */
  mimeType: string;
  seconds: number;
  bytes: Uint8Array<ArrayBuffer>;
  /** Video frames in the whole clip. */
  videoFrames: number;
  /**
   * Packets in file order: the byte offset each starts at, and `t`, the latest timestamp up to and
   * including it (a running maximum, so it never decreases and can be binary-searched).
   */
  packets: { pos: number; t: number; video: boolean }[];
}

export const MIME: Record<ClipKind, string> = {
  'h264': 'video/x-matroska;codecs=avc1.42E01F,opus',
  'h264-aac': 'video/mp4;codecs=avc1.42E01F,mp4a.40.2',
  'vp8': 'video/webm;codecs=vp8,opus',
};

// testsrc2 moves and is detailed enough that the encoder really spends 2.5 Mbps on it
// (plain testsrc compresses to about half that, which would flatter the relay). Rates are capped
// at 2.5 Mbit/s, as a browser's encoder holds them.
const SOURCE = 'testsrc2=size=1280x720:rate=30';
const CAPPED_H264 = [...H264_2S_GOP, '-b:v', '2500k', '-maxrate', '2500k', '-bufsize', '2500k'];
const OPUS = ['-c:a', 'libopus', '-b:a', '96k', '-ac', '2'];

/** The bench's clips, made by the harness's one clip factory (harness/clips.ts). */
export const BENCH_CLIPS: Record<ClipKind, ClipRecipe> = {
  'h264': { name: 'bench-h264-2500k', ext: 'mkv', video: SOURCE, encode: [...CAPPED_H264, ...OPUS, '-f', 'matroska'] },
  // A recorder's fragmented MP4: the header first, then a fragment every 250 ms (its timeslice).
  'h264-aac': {
    name: 'bench-h264-aac-2500k',
    ext: 'mp4',
    video: SOURCE,
    encode: [...CAPPED_H264, '-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-f', 'mp4',
      '-movflags', 'frag_keyframe+empty_moov+default_base_moof', '-frag_duration', '250000'],
  },
  'vp8': {
    name: 'bench-vp8-2500k',
    ext: 'webm',
    video: SOURCE,
    encode: ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '2500k', '-minrate', '2500k', '-maxrate', '2500k',
      '-g', '60', '-keyint_min', '60', ...OPUS, '-f', 'webm'],
  },
};

/** A 720p30 clip at 2.5 Mbps video + 96 kbps Opus (made once, cached), with its packets indexed. */
export async function makeClip(kind: ClipKind, seconds: number): Promise<Clip> {
  return loadClip(await makeClipFile(BENCH_CLIPS[kind], seconds), kind, seconds);
}

/** Reads a clip and its packet index (ffprobe) from disk. */
export async function loadClip(path: string, kind: ClipKind, seconds: number): Promise<Clip> {
  const proc = Bun.spawn(['ffprobe', '-v', 'error', '-show_entries', 'packet=stream_index,pts_time,pos', '-of', 'csv=p=0', path], {
    stdout: 'pipe', stderr: 'ignore',
  });
  const text = await new Response(proc.stdout).text();
  await proc.exited;
  const packets: Clip['packets'] = [];
  for (const line of text.split('\n')) {
    const [stream, t, pos] = line.split(',');
    if (pos === undefined || pos === 'N/A') continue;
    packets.push({ pos: Number(pos), t: Number(t), video: stream === '0' });
  }
  packets.sort((a, b) => a.pos - b.pos);
  let latest = Number.NEGATIVE_INFINITY;
  for (const p of packets) p.t = latest = Math.max(latest, p.t);
  return {
    path,
    kind,
    mimeType: MIME[kind],
    seconds,
    bytes: new Uint8Array(await Bun.file(path).arrayBuffer()),
    videoFrames: packets.filter((p) => p.video).length,
    packets,
  };
}

/** A clip of random bytes: what a broken client might send instead of media. */
export function garbageClip(seconds: number, bytesPerSecond = 300_000): Clip {
  const bytes = new Uint8Array(seconds * bytesPerSecond);
  // getRandomValues fills at most 64 KiB per call.
  for (let i = 0; i < bytes.length; i += 65_536) crypto.getRandomValues(bytes.subarray(i, Math.min(i + 65_536, bytes.length)));
  return { path: '', kind: 'h264', mimeType: MIME.h264, seconds, bytes, videoFrames: 0, packets: [] };
}

/**
 * The byte offset up to which a recorder would have delivered media at time `t` (seconds):
 * everything before the first packet stamped after `t`. Without an index, bytes are spread evenly.
 */
export function offsetAt(clip: Clip, t: number): number {
  if (t >= clip.seconds + 1) return clip.bytes.byteLength;
  if (clip.packets.length === 0) return Math.min(clip.bytes.byteLength, Math.floor((clip.bytes.byteLength * t) / clip.seconds));
  let lo = 0;
  let hi = clip.packets.length;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (clip.packets[mid]!.t <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo >= clip.packets.length ? clip.bytes.byteLength : clip.packets[lo]!.pos;
}

/** Video frames wholly inside the first `bytes` bytes of the clip. */
export function videoFramesBefore(clip: Clip, bytes: number): number {
  let n = 0;
  for (let i = 0; i < clip.packets.length; i++) {
    const p = clip.packets[i]!;
    const end = clip.packets[i + 1]?.pos ?? clip.bytes.byteLength;
    if (p.video && end <= bytes) n++;
  }
  return n;
}
