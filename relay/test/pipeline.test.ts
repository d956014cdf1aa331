import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { makeTestMedia, type MediaKind } from '../../harness/clips.ts';
import { streamFile } from '../../harness/media.ts';
import { probeRecording } from '../../harness/probe.ts';
import { startRelayFixture, type RelayFixture } from '../../harness/relay-fixture.ts';
import type { RelayProcess } from '../../harness/relay-process.ts';
import { startRtmpServer, type RtmpServer } from '../../harness/rtmp-server.ts';

// The three recordings browsers make, streamed in real time through the relay into a real
// nginx-rtmp, and what nginx recorded checked with ffprobe against what IVS requires.

const SECONDS = 6;
let fixture: RelayFixture;
let rtmp: RtmpServer;
let relay: RelayProcess;

beforeAll(async () => {
  fixture = await startRelayFixture({
    rtmp: { tls: true },
    env: (sink) => ({
      RELAY_ALLOWED_INGESTS: `rtmp://127.0.0.1:${sink.port},rtmps://localhost:${sink.tlsPort!}`,
      // FFmpeg verifies the ingest's certificate: here, the stand-in's own self-signed one.
      RELAY_INGEST_CA_FILE: sink.caFile!,
      // Also how long FFmpeg may take to flush after `stop`: a 720p transcode beside three copies on
      // a busy machine (load 16 on two cores) ran over the default 10 s and ended with 4502.
      RELAY_INGEST_STALL_TIMEOUT_MS: '30000',
    }),
  });
  ({ rtmp, relay } = fixture);
  await Promise.all((['h264-opus-mkv', 'vp8-opus-webm', 'h264-aac-fmp4'] as const).map((k) => makeTestMedia(k, SECONDS)));
});

afterAll(async () => {
  await fixture?.stop();
});

const MIME: Record<MediaKind, string> = {
  'h264-opus-mkv': 'video/x-matroska;codecs=avc1.42E01F,opus',
  'vp8-opus-webm': 'video/webm;codecs=vp8,opus',
  'h264-aac-fmp4': 'video/mp4;codecs=avc1.42E01F,mp4a.40.2',
  'h264-aac-fmp4-250ms': 'video/mp4;codecs=avc1.42E01F,mp4a.40.2',
};

async function streamAndProbe(kind: MediaKind, ingest: string, key: string, expectedPipeline: string) {
  const file = await makeTestMedia(kind, SECONDS);
  const result = await streamFile(relay.wsUrl, fixture.startMessage(key, { ingest, mimeType: MIME[kind] }), file, { seconds: SECONDS });
  expect(result.messages[0]).toMatchObject({ type: 'ready', pipeline: expectedPipeline });
  expect(typeof result.messages[0].session).toBe('string');
  expect(result.gotLive).toBe(true);
  expect(result.messages.at(-1)).toEqual({ type: 'ended' });
  expect(result.closeCode).toBe(1000);
  expect(result.stats.length).toBeGreaterThan(0);
  for (const s of result.stats) {
    expect(Object.keys(s).sort()).toEqual(['bitrateKbps', 'bufferedBytes', 'downMs', 'droppedFrames', 'fps', 'receivedBytes', 'reconnects', 'speed', 'type']);
    for (const k of ['bitrateKbps', 'fps', 'speed', 'droppedFrames', 'bufferedBytes']) expect(typeof s[k]).toBe('number');
    // Never interrupted: no reconnect, no time down.
    expect([s.reconnects, s.downMs]).toEqual([0, 0]);
  }
  // What the relay has received so far: growing with the stream, never more than was sent.
  const received: number[] = result.stats.map((s) => s.receivedBytes);
  expect(received.every((n, i) => n >= (received[i - 1] ?? 0))).toBe(true);
  expect(received.at(-1)!).toBeGreaterThan(0);
  expect(received.at(-1)!).toBeLessThanOrEqual(Bun.file(file).size);
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

  test.concurrent('rtmps:// ingest through a TLS listener whose certificate the relay trusts', async () => {
    await streamAndProbe('h264-opus-mkv', rtmp.rtmpsUrl!, 'sk_rtmps_copy_7a2b4c', 'copy');
  });

  test('no FFmpeg is left once every session ended', async () => {
    // A session's FFmpeg is reaped a moment after its client saw the close: on a busy machine, more than a moment.
    await fixture.waitIdle();
    expect(relay.ffmpegChildren()).toEqual([]);
    const health = await (await fetch(`${relay.httpUrl}/healthz`)).json();
    expect(health).toEqual({ status: 'ok', sessions: 0 });
  });
});

describe('rtmps:// ingest certificate verification', () => {
  /** Streams to an rtmps ingest the relay must not trust: 4502, nothing recorded, the key nowhere in the output. */
  async function expectUntrusted(env: Record<string, string>, ingest: string, key: string, ingestServer: RtmpServer) {
    const untrusting = await fixture.startRelay(env);
    try {
      const file = await makeTestMedia('h264-opus-mkv', SECONDS);
      const result = await streamFile(untrusting.wsUrl, fixture.startMessage(key, { ingest, mimeType: MIME['h264-opus-mkv'] }), file, { seconds: SECONDS });
      expect(result.messages[0]).toMatchObject({ type: 'ready' });
      expect(result.gotLive).toBe(false);
      expect(result.closeCode).toBe(4502);
      expect(result.messages.at(-1)).toEqual({ type: 'error', code: 'INGEST_FAILED', message: 'the ingest\'s TLS certificate could not be verified' });
      expect(JSON.stringify(result.messages)).not.toContain(key);
      // The relay saw FFmpeg's TLS layer refuse the certificate, and says so without the URL.
      expect(untrusting.output()).toMatch(/"detail":"tls: (Peer certificate failed verification|The certificate's owner does not match hostname)/);
      expect(await Bun.file(ingestServer.recordingPath(key)).exists()).toBe(false);
    } finally {
      await untrusting.stop();
    }
    expect(untrusting.output()).not.toContain(key);
    expect(untrusting.ffmpegChildren()).toEqual([]);
  }

  test.concurrent('a self-signed ingest certificate not in the CA file (the system bundle by default) → 4502', async () => {
    const tlsPort = rtmp.tlsPort!;
    await expectUntrusted({ RELAY_ALLOWED_INGESTS: `rtmps://localhost:${tlsPort}` }, rtmp.rtmpsUrl!, 'sk_untrusted_cert_6e1f0a', rtmp);
  });

  test.concurrent('a trusted certificate for another host name → 4502', async () => {
    // The certificate names only localhost; the relay connects to 127.0.0.1.
    const other = await startRtmpServer({ tls: true, certNames: 'DNS:localhost' });
    try {
      const tlsPort = other.tlsPort!;
      await expectUntrusted(
        { RELAY_ALLOWED_INGESTS: `rtmps://127.0.0.1:${tlsPort}`, RELAY_INGEST_CA_FILE: other.caFile! },
        `rtmps://127.0.0.1:${tlsPort}/live/`, 'sk_wrong_host_2d7c91', other,
      );
    } finally {
      await other.stop();
    }
  });
});
