import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { makeTestMedia, streamFile } from '../../harness/media.ts';
import { waitFor } from '../../harness/ports.ts';
import { probeRecording } from '../../harness/probe.ts';
import { isProcessAlive } from '../../harness/proc.ts';
import { startRelay, type RelayProcess } from '../../harness/relay-process.ts';
import { startRtmpServer, type RtmpServer } from '../../harness/rtmp-server.ts';
import { makeToken } from '../../harness/token.ts';
import { openRelaySocket, until } from '../../harness/ws-client.ts';

// Each FFmpeg runs under an address-space limit (RELAY_FFMPEG_MEMORY_LIMIT_MB, docs/pipeline.md#ffmpegs-memory):
// media that needs more than that ends its own session with 4415, and nothing else. The limit here
// is set between what a copy needs (384 MiB, measured with Debian's FFmpeg) and what a 720p
// transcode needs (768 MiB): the transcode stands for a decoder bomb that -max_pixels lets through.

const SECRET = 'ffmpeg-memory-test-secret-1a2b3c4d5e6f';
const LIMIT_MIB = 448;
let relay: RelayProcess;
let rtmp: RtmpServer;

beforeAll(async () => {
  rtmp = await startRtmpServer();
  relay = await startRelay({
    RELAY_AUTH_SECRET: SECRET,
    RELAY_ALLOWED_INGESTS: `rtmp://127.0.0.1:${rtmp.port}`,
    RELAY_FFMPEG_MEMORY_LIMIT_MB: String(LIMIT_MIB),
  });
});

afterAll(async () => {
  await relay?.stop();
  await rtmp?.stop();
});

/** FFmpeg's "Max address space" soft and hard limits, from /proc. */
async function addressSpaceLimit(pid: number): Promise<string[]> {
  const line = (await readFile(`/proc/${pid}/limits`, 'utf8')).split('\n').find((l) => l.startsWith('Max address space'));
  return line!.trim().split(/\s+/).slice(3, 5);
}

test('a session whose media needs more than the limit ends with 4415; a session beside it streams on', async () => {
  const token = await makeToken(SECRET);
  const start = (streamKey: string, mimeType: string) => ({ type: 'start', token, ingest: rtmp.rtmpUrl, streamKey, mimeType });
  const copyKey = 'sk_within_limit_3e4f';
  const copy = streamFile(relay.wsUrl, start(copyKey, 'video/x-matroska;codecs=avc1,opus'), await makeTestMedia('h264-opus-mkv', 6), { seconds: 6 });

  const messages: any[] = [];
  const heavy = await openRelaySocket(relay.wsUrl, (m) => messages.push(m));
  heavy.ws.send(JSON.stringify(start('sk_over_limit_5a6b', 'video/webm;codecs=vp8,opus')));
  await until(messages, 'ready');
  const pid = relay.ffmpegPidOf(messages.find((m) => m.type === 'ready').session)!;
  // `ready` follows the spawn of prlimit, which sets the limit, then execs FFmpeg in the same pid:
  // until the exec, /proc may still show the relay's own (unlimited) address space.
  await waitFor(() => isProcessAlive(pid, 'ffmpeg'), 5000, 'prlimit to exec FFmpeg');
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
  await waitFor(() => relay.ffmpegChildren().length === 0, 10_000, 'every ffmpeg reaped');
  expect(await (await fetch(`${relay.httpUrl}/healthz`)).json()).toEqual({ status: 'ok', sessions: 0 });
});
