import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { makeTestMedia } from '../../harness/clips.ts';
import { streamFile } from '../../harness/media.ts';
import { waitFor } from '../../harness/ports.ts';
import { startRelayFixture, type RelayFixture } from '../../harness/relay-fixture.ts';

// RELAY_DELAY_TRACE_FILE (docs/configuration.md#variables), the benchmark's measurement of how long
// each media frame waits in the relay: one JSON line a second and one at exit,
// {"t": <epoch ms>, "us": [µs…], "startUs": [µs…], "pauses": <n>}, read by bench/lib/relay-step.ts.

const SECONDS = 3;
const CHUNK_MS = 250;
/** Its sink and token; each test starts a relay of its own beside the fixture's, tracing into its own file. */
let fixture: RelayFixture;
let dir: string;

interface TraceLine {
  t: number;
  us: number[];
  startUs: number[];
  pauses: number;
}

beforeAll(async () => {
  fixture = await startRelayFixture();
  dir = await mkdtemp(join(tmpdir(), 'relay-delay-trace-'));
  await makeTestMedia('h264-opus-mkv', SECONDS);
});

afterAll(async () => {
  await fixture?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Streams the clip through a relay tracing into `file`, stops the relay, and returns the trace's lines. */
async function streamTraced(file: string, streamKey: string, env: Record<string, string> = {},
  onReady?: (ffmpegPid: number) => void): Promise<{ lines: TraceLine[]; chunks: number; t0: number; t1: number }> {
  const relay = await fixture.startRelay({ RELAY_DELAY_TRACE_FILE: file, ...env });
  const t0 = Date.now();
  const media = await makeTestMedia('h264-opus-mkv', SECONDS);
  try {
    const r = await streamFile(relay.wsUrl, fixture.startMessage(streamKey), media, {
      seconds: SECONDS,
      chunkMs: CHUNK_MS,
      onMessage: (msg) => {
        if (msg.type !== 'ready' || !onReady) return;
        // The `session ready` line with FFmpeg's pid may reach the test a moment after the frame.
        void waitFor(() => relay.ffmpegPidOf(msg.session) !== undefined, 15_000, 'the ffmpeg pid', 5)
          .then(() => onReady(relay.ffmpegPidOf(msg.session)!));
      },
    });
    expect(r.closeCode).toBe(1000);
    expect(r.messages.at(-1)).toEqual({ type: 'ended' });
  } finally {
    // The relay writes its last line as it exits.
    expect(await relay.stop()).toBe(0);
  }
  const t1 = Date.now();
  expect(relay.output()).toContain(`"delayTraceFile":"${file}"`);
  // The frames streamFile sent: the file cut into chunks of one timeslice's share of its bytes.
  const bytes = Bun.file(media).size;
  const chunks = Math.ceil(bytes / Math.ceil((bytes * CHUNK_MS) / (SECONDS * 1000)));
  const text = await readFile(file, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l) as TraceLine);
  return { lines, chunks, t0, t1 };
}

function expectShape(lines: TraceLine[], t0: number, t1: number): void {
  expect(lines.length).toBeGreaterThan(0);
  let lastT = 0;
  for (const line of lines) {
    expect(Object.keys(line)).toEqual(['t', 'us', 'startUs', 'pauses']);
    expect(Number.isInteger(line.t)).toBe(true);
    expect(line.t).toBeGreaterThanOrEqual(Math.max(t0, lastT));
    expect(line.t).toBeLessThanOrEqual(t1);
    lastT = line.t;
    for (const us of [...line.us, ...line.startUs]) {
      expect(Number.isInteger(us)).toBe(true);
      expect(us).toBeGreaterThanOrEqual(0);
      // Nothing in these streams waits anywhere near 30 s.
      expect(us).toBeLessThan(30_000_000);
    }
    expect(Number.isInteger(line.pauses)).toBe(true);
    expect(line.pauses).toBeGreaterThanOrEqual(0);
    // A second with nothing to report writes no line.
    expect(line.us.length + line.startUs.length + line.pauses).toBeGreaterThan(0);
  }
}

describe('RELAY_DELAY_TRACE_FILE', () => {
  test('one line a second with every frame\'s delay: the first second of the session\'s FFmpeg apart', async () => {
    const file = join(dir, 'steady.jsonl');
    const { lines, chunks, t0, t1 } = await streamTraced(file, 'sk_delay_trace_steady_1a');
    expectShape(lines, t0, t1);
    const us = lines.flatMap((l) => l.us);
    const startUs = lines.flatMap((l) => l.startUs);
    // Every frame sent was taken by FFmpeg's stdin, and each is counted once.
    expect(us.length + startUs.length).toBe(chunks);
    // 250 ms timeslices: about four frames in FFmpeg's first second, the rest after it.
    expect(startUs.length).toBeGreaterThanOrEqual(1);
    expect(us.length).toBeGreaterThanOrEqual(1);
    // Paced at real time into an idle FFmpeg: no backpressure, and a typical frame waits well under a second.
    expect(lines.reduce((n, l) => n + l.pauses, 0)).toBe(0);
    expect([...us].sort((a, b) => a - b)[Math.floor(us.length / 2)]).toBeLessThan(1_000_000);
  });

  test('a backed-up FFmpeg shows as pauses and as frames that waited', async () => {
    const file = join(dir, 'paused.jsonl');
    // The high-water mark is a quarter of the buffer: 64 KiB, well under what 1.5 s of this clip
    // (about 180 KB/s) leaves queued beyond the pipe's own 64 KiB.
    const env = { RELAY_MAX_BUFFERED_BYTES: String(256 * 1024), RELAY_MAX_MESSAGE_BYTES: String(64 * 1024) };
    const FROZEN_MS = 1500;
    const { lines, chunks, t0, t1 } = await streamTraced(file, 'sk_delay_trace_paused_2b', env, (pid) => {
      // FFmpeg stops reading its stdin for a while: the queue in front of it grows past the high-water mark.
      process.kill(pid, 'SIGSTOP');
      setTimeout(() => process.kill(pid, 'SIGCONT'), FROZEN_MS);
    });
    expectShape(lines, t0, t1);
    const all = lines.flatMap((l) => [...l.us, ...l.startUs]);
    expect(all.length).toBe(chunks);
    expect(lines.reduce((n, l) => n + l.pauses, 0)).toBeGreaterThanOrEqual(1);
    // The first frames waited for the frozen FFmpeg.
    expect(Math.max(...all)).toBeGreaterThan(500_000);
  });
});
