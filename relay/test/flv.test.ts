import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { makeTestMedia } from '../../harness/clips.ts';
import { FlvReader, withTimestamp, type FlvTag } from '../src/outputs/flv.ts';

// The fan-out's FLV reader (docs/pipeline.md#several-destinations) on what FFmpeg really writes:
// the encoder's own arguments' kind of output, read whole and in awkward pieces.

let dir: string;
let flv: Uint8Array;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'relay-flv-'));
  const out = join(dir, 'out.flv');
  const ffmpeg = Bun.spawn(['ffmpeg', '-v', 'error', '-i', await makeTestMedia('h264-opus-mkv', 6), '-c:v', 'copy', '-c:a', 'aac', '-f', 'flv', '-flvflags', 'no_duration_filesize', out]);
  expect(await ffmpeg.exited).toBe(0);
  flv = new Uint8Array(await Bun.file(out).arrayBuffer());
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** What ffprobe counts: video packets and video key frames. */
async function probeCounts(): Promise<{ video: number; keyframes: number }> {
  const proc = Bun.spawn(['ffprobe', '-v', 'error', '-select_streams', 'v', '-show_entries', 'packet=flags', '-of', 'csv=p=0', join(dir, 'out.flv')]);
  const lines = (await new Response(proc.stdout).text()).trim().split('\n');
  return { video: lines.length, keyframes: lines.filter((l) => l.startsWith('K')).length };
}

function readAll(pieces: number): FlvTag[] {
  const reader = new FlvReader();
  const tags: FlvTag[] = [];
  for (let at = 0; at < flv.byteLength; at += pieces) tags.push(...reader.push(flv.subarray(at, at + pieces)));
  return tags;
}

describe('FlvReader', () => {
  test('splits FFmpeg\'s FLV into its header and whole tags, however it arrives', async () => {
    const whole = readAll(flv.byteLength);
    const header = 9 + 4;
    expect(header + whole.reduce((n, t) => n + t.bytes.byteLength, 0)).toBe(flv.byteLength);
    for (const pieces of [1, 7, 4096]) expect(readAll(pieces).map((t) => t.bytes)).toEqual(whole.map((t) => t.bytes));

    // One script tag, the two decoder configurations first, then media; key frames where ffprobe sees them.
    expect(whole[0]!.kind).toBe('script');
    expect(whole.filter((t) => t.sequenceHeader).map((t) => t.kind).sort()).toEqual(['audio', 'video']);
    const counts = await probeCounts();
    // FFmpeg ends the stream with an AVC end-of-sequence tag (packet type 2), which is no packet to ffprobe.
    const isEnd = (t: FlvTag) => t.bytes[12] === 2;
    expect(isEnd(whole.filter((t) => t.kind === 'video').at(-1)!)).toBe(true);
    const video = whole.filter((t) => t.kind === 'video' && !t.sequenceHeader && !isEnd(t));
    expect(video).toHaveLength(counts.video);
    expect(video.filter((t) => t.keyframe)).toHaveLength(counts.keyframes);
    expect(counts.keyframes).toBeGreaterThan(1);
    // Timestamps in milliseconds, never going back within a track.
    expect(video.at(-1)!.timestamp).toBeGreaterThan(5000);
  });

  test('refuses what is not FLV', () => {
    expect(() => new FlvReader().push(new TextEncoder().encode('\x1aE\xdf\xa3 matroska, not flv'))).toThrow('not an FLV stream');
  });

  test('withTimestamp rewrites both parts of the field, beyond 24 bits too, and nothing else', () => {
    const tag = readAll(flv.byteLength).find((t) => t.keyframe && !t.sequenceHeader)!;
    for (const ts of [0, 40, 2 ** 24 - 1, 2 ** 24 + 5, 2 ** 31 + 7]) {
      const moved = withTimestamp(tag, ts);
      const again = new FlvReader();
      again.push(flv.subarray(0, 13));
      const [parsed] = again.push(moved.bytes);
      expect(parsed!.timestamp).toBe(ts);
      expect(moved.bytes.subarray(8)).toEqual(tag.bytes.subarray(8));
      expect(moved.bytes.subarray(0, 4)).toEqual(tag.bytes.subarray(0, 4));
    }
  });
});
