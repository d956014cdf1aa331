import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { makeTestMedia, streamFile, type MediaKind } from './support/media.ts';
import { probeRecording } from './support/probe.ts';
import { startRelay, type RelayProcess } from './support/relay-process.ts';
import { startRtmpServer, type RtmpServer } from './support/rtmp-server.ts';
import { makeToken } from './support/token.ts';

// The three recordings browsers make, streamed in real time through the relay into a real
// nginx-rtmp, and what nginx recorded checked with ffprobe against what IVS requires.

const SECONDS = 6;
const SECRET = 'pipeline-test-secret-0123456789';
let rtmp: RtmpServer;
let relay: RelayProcess;

beforeAll(async () => {
  rtmp = await startRtmpServer({ tls: true });
  const tlsPort = new URL(rtmp.rtmpsUrl!.replace('rtmps:', 'http:')).port;
  const port = new URL(rtmp.rtmpUrl.replace('rtmp:', 'http:')).port;
  relay = await startRelay({
    RELAY_AUTH_SECRET: SECRET,
    RELAY_ALLOWED_INGESTS: `rtmp://127.0.0.1:${port},rtmps://localhost:${tlsPort}`,
  });
  await Promise.all((['h264-opus-mkv', 'vp8-opus-webm', 'h264-aac-fmp4'] as const).map((k) => makeTestMedia(k, SECONDS)));
});

afterAll(async () => {
  await relay?.stop();
  await rtmp?.stop();
});

const MIME: Record<MediaKind, string> = {
  'h264-opus-mkv': 'video/x-matroska;codecs=avc1.42E01F,opus',
  'vp8-opus-webm': 'video/webm;codecs=vp8,opus',
  'h264-aac-fmp4': 'video/mp4;codecs=avc1.42E01F,mp4a.40.2',
};

async function streamAndProbe(kind: MediaKind, ingest: string, key: string, expectedPipeline: string) {
  const file = await makeTestMedia(kind, SECONDS);
  const result = await streamFile(relay.wsUrl, {
    type: 'start', token: await makeToken(SECRET), ingest, streamKey: key, mimeType: MIME[kind],
  }, file, { seconds: SECONDS });
  expect(result.messages[0]).toMatchObject({ type: 'ready', pipeline: expectedPipeline });
  expect(typeof result.messages[0].session).toBe('string');
  expect(result.gotLive).toBe(true);
  expect(result.messages.at(-1)).toEqual({ type: 'ended' });
  expect(result.closeCode).toBe(1000);
  expect(result.stats.length).toBeGreaterThan(0);
  for (const s of result.stats) {
    expect(Object.keys(s).sort()).toEqual(['bitrateKbps', 'bufferedBytes', 'droppedFrames', 'fps', 'speed', 'type']);
    for (const k of ['bitrateKbps', 'fps', 'speed', 'droppedFrames', 'bufferedBytes']) expect(typeof s[k]).toBe('number');
  }
  const probe = await probeRecording(await rtmp.waitForRecording(key));
  expect(probe.videoCodec).toBe('h264');
  expect(probe.audioCodec).toBe('aac');
  expect([44100, 48000]).toContain(probe.audioSampleRate);
  expect(probe.width).toBe(1280);
  expect(probe.height).toBe(720);
  expect(Math.abs(probe.durationS - SECONDS)).toBeLessThanOrEqual(SECONDS * 0.1);
  expect(probe.maxKeyframeIntervalS).toBeLessThanOrEqual(2.1);
  expect(probe.avStartDeltaS).toBeLessThanOrEqual(0.1);
  // Secrets never reach the relay's output.
  expect(relay.output()).not.toContain(key);
  return probe;
}

describe('pipelines', () => {
  test.concurrent('Chrome H.264 + Opus Matroska: video copied, Opus to AAC', async () => {
    await streamAndProbe('h264-opus-mkv', rtmp.rtmpUrl, 'sk_mkv_copy_4f9a2c', 'copy');
  });

  test.concurrent('Safari fragmented MP4 H.264 + AAC: both copied', async () => {
    await streamAndProbe('h264-aac-fmp4', rtmp.rtmpUrl, 'sk_fmp4_copy_8d1e7b', 'copy');
  });

  test.concurrent('VP8 + Opus WebM: transcoded to H.264 with a 2 s GOP', async () => {
    await streamAndProbe('vp8-opus-webm', rtmp.rtmpUrl, 'sk_vp8_transcode_3c5d9e', 'transcode');
  });

  test.concurrent('rtmps:// ingest through a TLS listener', async () => {
    await streamAndProbe('h264-opus-mkv', rtmp.rtmpsUrl!, 'sk_rtmps_copy_7a2b4c', 'copy');
  });

  test('no FFmpeg is left once every session ended', async () => {
    expect(relay.ffmpegChildren()).toEqual([]);
    const health = await (await fetch(`${relay.httpUrl}/healthz`)).json();
    expect(health).toEqual({ status: 'ok', sessions: 0 });
  });
});
