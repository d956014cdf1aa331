import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { makeTestMedia } from '../../harness/clips.ts';
import { streamFile } from '../../harness/media.ts';
import { waitFor } from '../../harness/ports.ts';
import { probeRecording } from '../../harness/probe.ts';
import { isProcessAlive } from '../../harness/proc.ts';
import { startRelayFixture, type RelayFixture } from '../../harness/relay-fixture.ts';
import type { RelayProcess } from '../../harness/relay-process.ts';
import type { RtmpServer } from '../../harness/rtmp-server.ts';
import { openRelaySocket, until } from '../../harness/ws-client.ts';

// Each FFmpeg runs under an address-space limit (RELAY_FFMPEG_MEMORY_LIMIT_MB, docs/pipeline.md#ffmpegs-memory):
// media that needs more than that ends its own session with 4415, and nothing else. The limit here
// is set between what a copy needs (384 MiB, measured with Debian's FFmpeg) and what a 720p
// transcode needs (768 MiB): the transcode stands for a decoder bomb that -max_pixels lets through.

const LIMIT_MIB = 448;
let fixture: RelayFixture;
let relay: RelayProcess;
let rtmp: RtmpServer;

beforeAll(async () => {
  fixture = await startRelayFixture({ env: () => ({ RELAY_FFMPEG_MEMORY_LIMIT_MB: String(LIMIT_MIB) }) });
  ({ relay, rtmp } = fixture);
});

afterAll(async () => {
  await fixture?.stop();
});

/** FFmpeg's "Max address space" soft and hard limits, from /proc. */
async function addressSpaceLimit(pid: number): Promise<string[]> {
  const line = (await readFile(`/proc/${pid}/limits`, 'utf8')).split('\n').find((l) => l.startsWith('Max address space'));
  return line!.trim().split(/\s+/).slice(3, 5);
}

test('a session whose media needs more than the limit ends with 4415; a session beside it streams on', async () => {
  const start = (streamKey: string, mimeType: string) => fixture.startMessage(streamKey, { mimeType });
  const copyKey = 'sk_within_limit_3e4f';
  const copy = streamFile(relay.wsUrl, start(copyKey, 'video/x-matroska;codecs=avc1,opus'), await makeTestMedia('h264-opus-mkv', 6), { seconds: 6 });

  const messages: any[] = [];
  const heavy = await openRelaySocket(relay.wsUrl, (m) => messages.push(m));
  heavy.ws.send(JSON.stringify(start('sk_over_limit_5a6b', 'video/webm;codecs=vp8,opus')));
  await until(messages, 'ready');
  // The `session ready` line with FFmpeg's pid may reach the test a moment after the frame.
  const session = messages.find((m) => m.type === 'ready').session;
  await waitFor(() => relay.ffmpegPidOf(session) !== undefined, 15_000, `the ffmpeg pid of ${session}`);
  const pid = relay.ffmpegPidOf(session)!;
  // `ready` follows the spawn of prlimit, which sets the limit, then execs FFmpeg in the same pid:
  // until the exec, /proc may still show the relay's own (unlimited) address space.
  await waitFor(() => isProcessAlive(pid, 'ffmpeg'), 15_000, 'prlimit to exec FFmpeg');
  expect(await addressSpaceLimit(pid)).toEqual([String(LIMIT_MIB * 1024 * 1024), String(LIMIT_MIB * 1024 * 1024)]);
  const clip = new Uint8Array(await Bun.file(await makeTestMedia('vp8-opus-webm', 6)).arrayBuffer());
  for (let offset = 0; offset < clip.byteLength && !heavy.isClosed(); offset += 64 * 1024) {
    heavy.ws.send(clip.subarray(offset, offset + 64 * 1024));
    await Bun.sleep(20);
  }
  const { closeCode } = await heavy.closedWithin(15_000, () => JSON.stringify(messages));
  expect(closeCode).toBe(4415);
  expect(messages.at(-1)).toEqual({
    type: 'error', code: 'UNSUPPORTED_MEDIA', message: 'the media needs more memory than the relay gives one encoder (RELAY_FFMPEG_MEMORY_LIMIT_MB)',
  });

  const r = await copy;
  expect(r.closeCode).toBe(1000);
  expect((await probeRecording(await rtmp.waitForRecording(copyKey))).videoCodec).toBe('h264');
  await fixture.waitIdle();
  expect(await (await fetch(`${relay.httpUrl}/healthz`)).json()).toEqual({ status: 'ok', sessions: 0 });
});
