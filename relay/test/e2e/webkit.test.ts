/**
 * End to end in Debian's WebKitGTK (harness/webkit.ts: MiniBrowser under Xvfb, WebKitWebDriver,
 * mock camera and microphone), the engine closest to Safari that runs here: the broadcaster page
 * → relay → FFmpeg → nginx-rtmp. `auto` records with WebCodecs, H.264 + AAC, which the relay
 * copies both ways: no encoder at all.
 */

import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { expectCleanDecode, expectIvsReadyRecording, expectWellFormedAvcC } from './recording-checks.ts';
import { waitFor } from '../../../harness/ports.ts';
import { startRelayFixture, type RelayFixture } from '../../../harness/relay-fixture.ts';
import type { RelayProcess } from '../../../harness/relay-process.ts';
import type { RtmpServer } from '../../../harness/rtmp-server.ts';
import { launchWebKit, type WebKitSession } from '../../../harness/webkit.ts';

const STREAM_SECONDS = 10;

let fixture: RelayFixture;
let rtmp: RtmpServer;
let relay: RelayProcess;
let webkit: WebKitSession;

beforeAll(async () => {
  fixture = await startRelayFixture();
  ({ rtmp, relay } = fixture);
  webkit = await launchWebKit();
});

afterAll(async () => {
  await webkit?.close();
  await fixture?.stop();
});

const STATUS = 'const o = {}; for (const id of [\'state\', \'codec-info\', \'pipeline\', \'bitrate-info\', \'fps\', \'message\', \'log\']) o[id] = document.getElementById(id).textContent; return o;';

async function waitForState(state: string, timeoutMs: number): Promise<void> {
  try {
    await waitFor(async () => (await webkit.execute<string>('return document.getElementById("state").dataset.state')) === state, timeoutMs, `the page to be ${state}`, 500);
  } catch (error) {
    throw new Error(`${String(error)}\n${JSON.stringify(await webkit.execute(STATUS), null, 1)}`);
  }
}

/** Opens the page, waits for the camera preview, fills the form and clicks Go live (a WebDriver click: a user gesture). */
async function goLive(key: string, capture: 'auto' | 'mediarecorder'): Promise<void> {
  await webkit.navigate(`${relay.httpUrl}/`);
  await waitFor(async () => (await webkit.execute<number>('return document.getElementById("preview").videoWidth')) > 0, 30_000, 'the camera preview', 500);
  await webkit.execute(
    'for (const [id, value] of Object.entries(arguments[0])) document.getElementById(id).value = value;',
    { 'ingest': rtmp.rtmpUrl, 'stream-key': key, 'token': await fixture.makeToken(), 'relays': '', 'codec': 'auto', capture },
  );
  await webkit.click('#start');
}

describe('WebKitGTK → relay → nginx-rtmp', () => {
  test('auto: WebCodecs H.264 + AAC, both copied by the relay; the recording is IVS-ready and decodes cleanly', async () => {
    const key = `wk-webcodecs-${Date.now()}`;
    await goLive(key, 'auto');
    await waitForState('live', 45_000);
    await Bun.sleep(STREAM_SECONDS * 1000);
    const live = await webkit.execute<Record<string, string>>(STATUS);
    await webkit.click('#stop');
    await waitForState('ended', 30_000);
    expect(live['codec-info']).toMatch(/^H\.264 \+ AAC in Matroska from WebCodecs \(video\/x-matroska;codecs=avc1\.[0-9a-f]{6},mp4a\.40\.2\)$/);
    expect(live.pipeline).toBe('copy (H.264 and AAC passed through: no encoder)');
    expect(Number(live.fps)).toBeGreaterThan(0);
    const recording = await rtmp.waitForRecording(key);
    await expectIvsReadyRecording(recording, STREAM_SECONDS);
    await expectCleanDecode(recording);
    await expectWellFormedAvcC(recording);
    expect(relay.output()).not.toContain(key);
  });

  test('forced MediaRecorder, which records nothing here (no MP4 muxer in Debian 12\'s GStreamer): CAPTURE_FAILED within 5 s of ready, before the relay\'s MEDIA_TIMEOUT', async () => {
    await goLive(`wk-mediarecorder-${Date.now()}`, 'mediarecorder');
    await waitForState('failed', 45_000);
    const status = await webkit.execute<Record<string, string>>(STATUS);
    expect(status['codec-info']).toStartWith('H.264 + AAC in MP4 from MediaRecorder');
    expect(status.log).toContain('error CAPTURE_FAILED');
    expect(status.log).toContain('The browser recorded nothing within 5 s of starting.');
    expect(status.log).not.toContain('MEDIA_TIMEOUT');
    expect(status.message).toStartWith('The browser could not start recording.');
  });
});
