// The full-copy pipeline (docs/pipeline.md#copy-pipeline): H.264 + AAC in fragmented MP4, as
// Safari's MediaRecorder (and Chrome's on Windows and macOS) records it, reaches the ingest with
// neither stream re-encoded and with valid timestamps. Real FFmpeg, real nginx-rtmp.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { makeTestMedia } from '../../harness/clips.ts';
import { streamFile } from '../../harness/media.ts';
import { probeRecording } from '../../harness/probe.ts';
import { startRelayFixture, type RelayFixture } from '../../harness/relay-fixture.ts';
import type { RelayProcess } from '../../harness/relay-process.ts';
import type { RtmpServer } from '../../harness/rtmp-server.ts';

const SECONDS = 6;
const MIME = 'video/mp4;codecs=avc1.42E01F,mp4a.40.2';

let fixture: RelayFixture;
let relay: RelayProcess;
let rtmp: RtmpServer;

beforeAll(async () => {
  fixture = await startRelayFixture();
  ({ relay, rtmp } = fixture);
  await makeTestMedia('h264-aac-fmp4-250ms', SECONDS);
});

afterAll(async () => {
  await fixture?.stop();
});

test('H.264 + AAC in 250 ms MP4 fragments, sent in timeslice-sized chunks: both streams copied, timestamps valid', async () => {
  const key = 'sk_full_copy_5b8e2d';
  const result = await streamFile(relay.wsUrl, fixture.startMessage(key, { mimeType: MIME }), await makeTestMedia('h264-aac-fmp4-250ms', SECONDS), { seconds: SECONDS, chunkMs: 250 });
  expect(result.messages[0]).toMatchObject({ type: 'ready', pipeline: 'copy' });
  expect(result.gotLive).toBe(true);
  expect(result.closeCode).toBe(1000);

  // The relay chose to copy the audio too: no encoder ran.
  const session = result.messages[0].session;
  const ready = relay.logs.find((l) => l.msg === 'session ready' && l.session === session);
  expect(ready).toMatchObject({ inputFormat: 'mp4', audio: 'copy' });
  // How long the broadcaster waited for `live`, logged and as a metric (docs/telemetry.md#metrics).
  const live = relay.logs.find((l) => l.msg === 'live' && l.session === session);
  const waited = live?.startToLiveMs as number;
  expect(waited).toBeGreaterThan(0);
  expect(waited).toBeLessThan(10_000);
  expect(relay.logs.some((l) => l.msg === 'metric' && l.StartToLiveMs === waited)).toBe(true);

  const probe = await probeRecording(await rtmp.waitForRecording(key));
  expect(probe).toMatchObject({ videoCodec: 'h264', audioCodec: 'aac', audioSampleRate: 48000, width: 1280, height: 720, timestampsMonotonic: true });
  expect(Math.abs(probe.durationS - SECONDS)).toBeLessThanOrEqual(SECONDS * 0.1);
  expect(probe.maxKeyframeIntervalS).toBeLessThanOrEqual(2.1);
  expect(probe.avStartDeltaS).toBeLessThanOrEqual(0.1);
});
