/**
 * End to end in Debian's Firefox ESR (harness/firefox.ts: puppeteer-core over WebDriver BiDi,
 * fake camera and microphone): the broadcaster page → relay → FFmpeg → nginx-rtmp, on both
 * capture paths, and without an audio output device, where Firefox's AudioContext never starts.
 */

import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Browser, Page } from 'puppeteer-core';
import { expectCleanDecode, expectIvsReadyRecording, expectWellFormedAvcC } from './recording-checks.ts';
import { withTimeout } from '../../../harness/bounded.ts';
import { launchFirefox, startPulseAudio, type PulseAudio } from '../../../harness/firefox.ts';
import { startRelayFixture, type RelayFixture } from '../../../harness/relay-fixture.ts';
import type { RelayProcess } from '../../../harness/relay-process.ts';
import type { RtmpServer } from '../../../harness/rtmp-server.ts';

const STREAM_SECONDS = 10;
/** The page's default bound on each start-up wait (captureStartTimeoutMs). */
const CAPTURE_START_MS = 10_000;

let fixture: RelayFixture;
let rtmp: RtmpServer;
let relay: RelayProcess;
let pulse: PulseAudio;
let firefox: Browser;

beforeAll(async () => {
  fixture = await startRelayFixture();
  ({ rtmp, relay } = fixture);
  pulse = await startPulseAudio();
  firefox = await launchFirefox({ pulse });
});

afterAll(async () => {
  await (firefox && step(firefox.close(), 'Firefox to close'));
  await pulse?.stop();
  await fixture?.stop();
});

interface GoLive {
  readonly streamKey: string;
  readonly codec: 'auto' | 'h264' | 'vp8';
  readonly capture: 'auto' | 'webcodecs' | 'mediarecorder';
}

/** Opens the page, waits for the camera preview, fills the form and clicks "Go live" (a real click: a user gesture). */
async function goLive(page: Page, input: GoLive): Promise<void> {
  await page.goto(`${relay.httpUrl}/`, { timeout: 30_000 });
  await page.waitForFunction(() => (document.getElementById('preview') as HTMLVideoElement).videoWidth > 0, { timeout: 30_000 });
  const values = { 'ingest': rtmp.rtmpUrl, 'stream-key': input.streamKey, 'token': await fixture.makeToken(), 'relays': '' };
  await step(page.evaluate((v: Record<string, string>) => {
    for (const [id, value] of Object.entries(v)) (document.getElementById(id) as HTMLInputElement).value = value;
  }, values), 'the form to be filled');
  await step(page.select('#codec', input.codec), 'the codec to be chosen');
  await step(page.select('#capture', input.capture), 'the capture path to be chosen');
  await step(page.click('#start'), 'the Go-live click');
}

/** Waits for the status panel's state; the panel's message and log are in the error when it does not come. */
async function waitForState(page: Page, state: string, timeoutMs = 45_000): Promise<void> {
  try {
    await page.waitForSelector(`#state[data-state="${state}"]`, { timeout: timeoutMs });
  } catch (error) {
    const status = await readStatus(page).catch(() => ({}));
    throw new Error(`the page did not reach "${state}": ${String(error)}\n${JSON.stringify(status, null, 1)}`);
  }
}

async function readStatus(page: Page): Promise<Record<string, string>> {
  return withTimeout(page.evaluate(() => {
    const out: Record<string, string> = {};
    for (const id of ['state', 'codec-info', 'pipeline', 'bitrate-info', 'fps', 'message', 'log']) out[id] = document.getElementById(id)?.textContent ?? '';
    out.messageCode = document.getElementById('message')?.dataset.code ?? '';
    return out;
  }), 15_000, 'the status panel');
}

/** Every puppeteer call without a timeout of its own gets one: a browser that stops answering fails the test, never hangs it. */
function step<T>(promise: Promise<T>, what: string): Promise<T> {
  return withTimeout(promise, 30_000, what);
}

/** A new tab, closed (within its bound) after `use`. */
async function withPage<T>(browser: Browser, use: (page: Page) => Promise<T>): Promise<T> {
  const page = await step(browser.newPage(), 'a new tab');
  try {
    return await use(page);
  } finally {
    await step(page.close(), 'the tab to close');
  }
}

/** Goes live, streams STREAM_SECONDS, stops; the status panel as it was while live. */
async function broadcast(browser: Browser, input: GoLive): Promise<Record<string, string>> {
  return withPage(browser, async (page) => {
    await goLive(page, input);
    await waitForState(page, 'live');
    await page.waitForFunction(() => /kbps/.test(document.getElementById('bitrate-info')?.textContent ?? ''), { timeout: 15_000 });
    await new Promise((resolve) => setTimeout(resolve, STREAM_SECONDS * 1000));
    const live = await readStatus(page);
    await step(page.click('#stop'), 'the Stop click');
    await waitForState(page, 'ended', 30_000);
    return live;
  });
}

/** Every recording from Firefox: IVS-ready, decodable without one error, its avcC well-formed. */
async function expectCleanRecording(key: string): Promise<void> {
  const recording = await rtmp.waitForRecording(key);
  await expectIvsReadyRecording(recording, STREAM_SECONDS);
  await expectCleanDecode(recording);
  await expectWellFormedAvcC(recording);
  expect(relay.output()).not.toContain(key);
}

describe('Firefox ESR → relay → nginx-rtmp', () => {
  test('auto: WebCodecs H.264 + Opus (copy pipeline); the doubled-NAL-header avcC is repaired before the ingest sees it', async () => {
    const key = `ff-webcodecs-${Date.now()}`;
    const live = await broadcast(firefox, { streamKey: key, codec: 'auto', capture: 'auto' });
    expect(live['codec-info']).toMatch(/^H\.264 \+ Opus in Matroska from WebCodecs \(video\/x-matroska;codecs=avc1\.[0-9a-f]{6},opus\)$/);
    expect(live.pipeline).toStartWith('copy');
    expect(Number(live.fps)).toBeGreaterThan(0);
    await expectCleanRecording(key);
  });

  test('forced MediaRecorder: VP8 + Opus, transcoded by the relay', async () => {
    const key = `ff-vp8-${Date.now()}`;
    const live = await broadcast(firefox, { streamKey: key, codec: 'vp8', capture: 'mediarecorder' });
    expect(live['codec-info']).toStartWith('VP8 + Opus in WebM from MediaRecorder');
    expect(live.pipeline).toStartWith('transcode');
    await expectCleanRecording(key);
  });
});

describe('Firefox ESR without an audio output device (its AudioContext never starts)', () => {
  let muted: Browser;
  beforeAll(async () => {
    muted = await launchFirefox();
  });
  afterAll(async () => {
    await (muted && step(muted.close(), 'Firefox to close'));
  });

  test('auto goes live through MediaRecorder within the start bound, and the page says why', async () => {
    const key = `ff-fallback-${Date.now()}`;
    await withPage(muted, async (page) => {
      await goLive(page, { streamKey: key, codec: 'auto', capture: 'auto' });
      const clicked = Date.now();
      await waitForState(page, 'live', CAPTURE_START_MS + 30_000);
      const status = await readStatus(page);
      expect(status['codec-info']).toStartWith('VP8 + Opus in WebM from MediaRecorder');
      expect(status['codec-info']).toContain('WebCodecs did not start: The audio capture did not start within 10 s: the browser\'s AudioContext stayed suspended');
      expect(status.log).toContain('recording with MediaRecorder because WebCodecs did not start');
      // The bound, a relay start and FFmpeg's connection: far below the relay's 15 s MEDIA_TIMEOUT after the bound.
      expect(Date.now() - clicked).toBeLessThan(CAPTURE_START_MS + 25_000);
      await new Promise((resolve) => setTimeout(resolve, 4000));
      await step(page.click('#stop'), 'the Stop click');
      await waitForState(page, 'ended', 30_000);
    });
    const recording = await rtmp.waitForRecording(key);
    await expectCleanDecode(recording);
    await expectWellFormedAvcC(recording);
  });

  test('forced WebCodecs fails with CAPTURE_FAILED naming the AudioContext, before the relay is asked, never MEDIA_TIMEOUT', async () => {
    const sessionsBefore = relay.logs.filter((l) => l.msg === 'session ready').length;
    await withPage(muted, async (page) => {
      await goLive(page, { streamKey: `ff-forced-${Date.now()}`, codec: 'auto', capture: 'webcodecs' });
      const clicked = Date.now();
      await waitForState(page, 'failed', CAPTURE_START_MS + 20_000);
      expect(Date.now() - clicked).toBeLessThan(CAPTURE_START_MS + 15_000);
      const status = await readStatus(page);
      expect(status.messageCode).toBe('CAPTURE_FAILED');
      expect(status.message).toContain('AudioContext stayed suspended');
      expect(status.message).toContain('speakers or headphones');
      expect(status.log).toContain('error CAPTURE_FAILED');
      expect(relay.logs.filter((l) => l.msg === 'session ready').length).toBe(sessionsBefore);
    });
  });
});
