/**
 * End to end: Debian Chromium (fake camera + microphone) → broadcaster page → relay → FFmpeg →
 * nginx-rtmp, then ffprobe on what nginx recorded.
 */

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test';
import type { Browser, Page } from 'playwright-core';
import { goLive, launchBrowser, readStatus, stopBroadcast, waitForState } from './browser.ts';
import { expectCleanDecode, expectIvsReadyRecording as expectIvsReady, expectWellFormedAvcC } from './recording-checks.ts';
import { waitFor } from '../../../harness/ports.ts';
import { probeRecording } from '../../../harness/probe.ts';
import { isProcessAlive } from '../../../harness/proc.ts';
import { startRelayFixture, type RelayFixture } from '../../../harness/relay-fixture.ts';
import { REPO_ROOT, type RelayProcess } from '../../../harness/relay-process.ts';
import type { RtmpServer } from '../../../harness/rtmp-server.ts';
import { makeToken } from '../../../harness/token.ts';

const STREAM_SECONDS = 10;
const REPORTS = join(REPO_ROOT, 'test-reports');

/** Two sinks: `rtmp` takes the broadcasts, `second` a second destination's. */
let fixture: RelayFixture;
let rtmp: RtmpServer;
let second: RtmpServer;
let relay: RelayProcess;
let browser: Browser;

beforeAll(async () => {
  fixture = await startRelayFixture({ sinks: 2 });
  ({ rtmp, relay } = fixture);
  second = fixture.sinks[1]!;
  browser = await launchBrowser();
  void relay.exited.then((code) => (relayExit = code));
});

// If the shared relay dies, every later test fails fast; say why once, with its last output.
let relayExit: number | undefined;
let relayDeathReported = false;
afterEach(() => {
  if (relayExit === undefined || relayDeathReported) return;
  relayDeathReported = true;
  console.error(`the shared relay exited with ${relayExit}; its last output:\n${relay.output().slice(-4000)}`);
});

afterAll(async () => {
  await browser?.close();
  await fixture?.stop();
});

/**
 * What nginx recorded for `key` is what IVS takes, decodes without one error and has a well-formed
 * avcC (recording-checks.ts: the same checks as the Firefox and WebKitGTK recordings), and the key
 * never reached the relay's output.
 */
async function expectIvsReadyRecording(key: string): Promise<void> {
  const recording = await rtmp.waitForRecording(key);
  await expectIvsReady(recording, STREAM_SECONDS);
  await expectCleanDecode(recording);
  await expectWellFormedAvcC(recording);
  expect(relay.output()).not.toContain(key);
}

/** Goes live with `codec` and `capture`, streams for STREAM_SECONDS, stops; returns the status panel as it was while live. */
async function broadcast(codec: 'h264' | 'vp8', capture: 'webcodecs' | 'mediarecorder', streamKey: string, screenshot?: string) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  try {
    await goLive(page, `${relay.httpUrl}/`, { ingest: rtmp.rtmpUrl, streamKey, token: await fixture.makeToken(), codec, capture });
    await waitForState(page, 'live');
    // Stats arrive about every 2 s; the page must show them.
    await page.waitForFunction(() => /kbps/.test(document.getElementById('bitrate-info')?.textContent ?? ''), undefined, { timeout: 15_000 });
    await page.waitForTimeout(STREAM_SECONDS * 1000);
    const live = await readStatus(page);
    if (screenshot) {
      await mkdir(REPORTS, { recursive: true });
      await page.screenshot({ path: join(REPORTS, screenshot), fullPage: true });
    }
    await stopBroadcast(page);
    return live;
  } finally {
    await page.close();
  }
}

describe('broadcaster page → relay → nginx-rtmp', () => {
  test('H.264 from MediaRecorder (copy pipeline): 10 s arrive as H.264 + AAC with keyframes at most 2.1 s apart', async () => {
    const key = `e2e-h264-${Date.now()}`;
    const live = await broadcast('h264', 'mediarecorder', key, 'broadcaster-h264-live.png');
    expect(live.state).toBe('live');
    expect(live['codec-info']).toContain('H.264');
    expect(live['codec-info']).toContain('from MediaRecorder');
    expect(live.pipeline).toStartWith('copy');
    expect(live['bitrate-info']).toMatch(/^\d+ kbps/);
    expect(Number(live.fps)).toBeGreaterThan(0);
    await expectIvsReadyRecording(key);
  });

  test('H.264 from WebCodecs (copy pipeline): 10 s arrive as H.264 + AAC with keyframes at most 2.1 s apart', async () => {
    const key = `e2e-webcodecs-${Date.now()}`;
    const live = await broadcast('h264', 'webcodecs', key);
    expect(live.state).toBe('live');
    // Debian's Chromium encodes Opus, not AAC, with WebCodecs: the relay copies the video and encodes the audio.
    expect(live['codec-info']).toMatch(/^H\.264 \+ Opus in Matroska from WebCodecs \(video\/x-matroska;codecs=avc1\.[0-9a-f]{6},opus\)$/);
    expect(live.pipeline).toStartWith('copy');
    expect(live['bitrate-info']).toMatch(/^\d+ kbps/);
    // On loopback the link keeps up: the target stays where it started (the uplink is measured only
    // when the socket backs up, which a busy machine may make it do for a moment).
    expect(live['target-bitrate']).toBe('2500 kbps');
    expect(live.uplink).toMatch(/^(keeps up \(not measured\)|\d+\.\d\d Mbps, \d+ ms waiting)$/);
    expect(Number(live.fps)).toBeGreaterThan(0);
    await expectIvsReadyRecording(key);
  });

  test('VP8 forced (transcode pipeline): 10 s arrive as H.264 + AAC with keyframes at most 2.1 s apart', async () => {
    const key = `e2e-vp8-${Date.now()}`;
    const live = await broadcast('vp8', 'mediarecorder', key);
    expect(live.state).toBe('live');
    expect(live['codec-info']).toContain('VP8');
    expect(live['codec-info']).toContain('vp8');
    expect(live.pipeline).toStartWith('transcode');
    expect(live['bitrate-info']).toMatch(/^\d+ kbps/);
    await expectIvsReadyRecording(key);
  });

  test('nginx-rtmp restarting mid-broadcast: the page shows Reconnecting…, goes live again, and the new recording plays', async () => {
    const key = `e2e-reconnect-${Date.now()}`;
    const page = await browser.newPage();
    try {
      await goLive(page, `${relay.httpUrl}/`, { ingest: rtmp.rtmpUrl, streamKey: key, token: await fixture.makeToken(), codec: 'h264' });
      await waitForState(page, 'live');
      await page.waitForTimeout(2000);
      await rtmp.restart();
      await waitForState(page, 'reconnecting');
      expect(await page.textContent('#message')).toStartWith('Reconnecting…');
      await waitForState(page, 'live');
      expect(await page.isHidden('#message')).toBe(true);
      await page.waitForTimeout(5000);
      await stopBroadcast(page);
    } finally {
      await page.close();
    }
    // The file nginx-rtmp records for the key is the recording after the restart.
    const probe = await probeRecording(await rtmp.waitForRecording(key));
    expect(probe.videoCodec).toBe('h264');
    expect(probe.audioCodec).toBe('aac');
    expect(probe.startsWithKeyframe).toBe(true);
    expect(probe.timestampsMonotonic).toBe(true);
    expect(probe.durationS).toBeGreaterThan(3.5);
  });

  test('a second destination added in the page: one upload, two recordings, each destination\'s state in the panel', async () => {
    // Both sinks are on its allow-list.
    const both = await fixture.startRelay();
    const [key, key2] = [`e2e-first-${Date.now()}`, `e2e-second-${Date.now()}`];
    const page = await browser.newPage();
    try {
      await goLive(page, `${both.httpUrl}/`, { ingest: rtmp.rtmpUrl, streamKey: key, token: await fixture.makeToken(), codec: 'h264', second: { ingest: second.rtmpUrl, streamKey: key2 } });
      await waitForState(page, 'live');
      await page.waitForFunction(() => (document.getElementById('destinations')?.textContent ?? '').split('live').length === 3, undefined, { timeout: 15_000 });
      expect(await page.textContent('#destinations')).toBe([rtmp, second].map((s) => `${s.rtmpUrl.replace(/\/live\/$/, '')} live`).join(' · '));
      await page.waitForTimeout(6000);
      await stopBroadcast(page);
    } finally {
      await page.close();
      await both.stop();
    }
    for (const [sink, k] of [[rtmp, key], [second, key2]] as const) {
      const probe = await probeRecording(await sink.waitForRecording(k));
      expect([probe.videoCodec, probe.audioCodec]).toEqual(['h264', 'aac']);
      expect(probe.startsWithKeyframe).toBe(true);
      expect(probe.durationS).toBeGreaterThan(5);
    }
  });

  test('the client module on its own: events in order, bufferedAmount, stop() ends with `ended`', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${relay.httpUrl}/healthz`);
      const key = `e2e-api-${Date.now()}`;
      const result = await page.evaluate(
        async ({ wsUrl, ingest, streamKey, token }) => {
          // Loaded the way a page on the relay loads it: /broadcast-client.js, transpiled from the .ts by the relay.
          const moduleUrl = '/broadcast-client.js';
          const { startBroadcast } = (await import(moduleUrl)) as typeof import('../../public/broadcast-client.ts');
          const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
          const events: string[] = [];
          // A token function: called once per connection attempt.
          let tokenCalls = 0;
          const b = startBroadcast({ relayUrl: wsUrl, token: async () => (tokenCalls++, token), ingest, streamKey, stream, preferCodec: 'h264' });
          for (const type of ['connecting', 'ready', 'live', 'stats', 'warning', 'error', 'ended'] as const) b.on(type, () => events.push(type));
          // `stats` comes every 2 s from `ready` (docs/protocol.md#messages): on a busy machine the first may
          // come before `live`. The one read here is the first after `live`.
          await new Promise<void>((resolve) => b.on('live', () => b.on('stats', () => resolve())));
          const buffered = b.bufferedAmount;
          const state = b.state;
          const pipeline = b.pipeline;
          await b.stop();
          stream.getTracks().forEach((t) => t.stop());
          return { events, buffered, state, pipeline, capture: b.capture, mimeType: b.mimeType, finalState: b.state, tokenCalls, done: await b.done };
        },
        { wsUrl: relay.wsUrl, ingest: rtmp.rtmpUrl, streamKey: key, token: await fixture.makeToken() },
      );
      expect(result.events.filter((e) => e !== 'stats').slice(0, 3)).toEqual(['connecting', 'ready', 'live']);
      expect(result.events.indexOf('stats')).toBeGreaterThan(result.events.indexOf('ready'));
      expect(result.events.slice(result.events.indexOf('live'))).toContain('stats');
      expect(result.events.at(-1)).toBe('ended');
      expect(result.events).not.toContain('error');
      expect(typeof result.buffered).toBe('number');
      expect(result.state).toBe('live');
      expect(result.pipeline).toBe('copy');
      // The automatic choice in Debian's Chromium: WebCodecs (H.264 + Opus; MediaRecorder has no AAC here either).
      expect(result.capture).toBe('webcodecs');
      expect(result.mimeType).toMatch(/^video\/x-matroska;codecs=avc1\.42e0[0-9a-f]{2},opus$/);
      expect(result.finalState).toBe('ended');
      expect(result.tokenCalls).toBe(1);
      expect(result.done).toEqual({ reason: 'stopped' });
      expect(rtmp.recordingPath(key)).toBe(await rtmp.waitForRecording(key));
    } finally {
      await page.close();
    }
  });

  test('a wrong token shows the UNAUTHORIZED message and spawns no FFmpeg', async () => {
    const page: Page = await browser.newPage();
    try {
      const key = `e2e-badtoken-${Date.now()}`;
      const forged = await makeToken('not-the-relay-secret-but-long-enough');
      await goLive(page, `${relay.httpUrl}/`, { ingest: rtmp.rtmpUrl, streamKey: key, token: forged, codec: 'h264' });
      await waitForState(page, 'failed');
      const status = await readStatus(page);
      expect(status.messageCode).toBe('UNAUTHORIZED');
      expect(status.message).toContain('token');
      expect(status.log).toContain('close 4001');
      expect(relay.ffmpegChildren()).toEqual([]);
      expect(relay.output()).not.toContain(forged);
    } finally {
      await page.close();
    }
  });

  test('a relay whose self-signed certificate was never accepted: the page explains it and links to the relay', async () => {
    const tlsRelay = await fixture.startRelay({ RELAY_TLS: 'self-signed' });
    const page = await browser.newPage();
    try {
      await goLive(page, `${relay.httpUrl}/`, {
        ingest: rtmp.rtmpUrl,
        streamKey: `e2e-cert-${Date.now()}`,
        token: await fixture.makeToken(),
        relays: tlsRelay.wsUrl,
      });
      await waitForState(page, 'failed');
      const status = await readStatus(page);
      expect(status.messageCode).toBe('CONNECTION_FAILED');
      expect(status.message).toContain('certificate');
      expect(await page.isVisible('#cert-note')).toBe(true);
      expect(await page.getAttribute('#cert-link', 'href')).toBe(`https://127.0.0.1:${tlsRelay.port}/healthz`);
      expect(await page.getAttribute('#cert-link', 'target')).toBe('_blank');
      expect(tlsRelay.ffmpegChildren()).toEqual([]);
    } finally {
      await page.close();
      await tlsRelay.stop();
    }
  });

  test('a relay at capacity (4013) hands the broadcast to the next relay address', async () => {
    // A real relay that accepts no session at all answers every start with UNAVAILABLE / 4013.
    const full = await fixture.startRelay({ RELAY_MAX_SESSIONS: '0' });
    const page = await browser.newPage();
    try {
      const key = `e2e-failover-${Date.now()}`;
      await goLive(page, `${relay.httpUrl}/`, {
        ingest: rtmp.rtmpUrl,
        streamKey: key,
        token: await fixture.makeToken(),
        relays: `${full.wsUrl}, ${relay.wsUrl}`,
        codec: 'h264',
      });
      await waitForState(page, 'live');
      const status = await readStatus(page);
      expect(status.relay).toBe(relay.wsUrl);
      expect(status.log).toContain(`relay failed (UNAVAILABLE); trying ${relay.wsUrl}`);
      expect(full.ffmpegChildren()).toEqual([]);
      await page.waitForTimeout(3000);
      await stopBroadcast(page);
      const recording = await rtmp.waitForRecording(key);
      const probe = await probeRecording(recording);
      expect(probe.videoCodec).toBe('h264');
    } finally {
      await page.close();
      await full.stop();
    }
  });

  test('a relay that dies mid-broadcast (dropped connection) is replaced by the next relay address', async () => {
    const doomed = await fixture.startRelay();
    const page = await browser.newPage();
    try {
      const key = `e2e-drop-${Date.now()}`;
      await goLive(page, `${relay.httpUrl}/`, {
        ingest: rtmp.rtmpUrl,
        streamKey: key,
        // A function would give each attempt a fresh token; the page sends one string, valid 10 min.
        token: await fixture.makeToken(),
        relays: `${doomed.wsUrl}, ${relay.wsUrl}`,
        codec: 'h264',
      });
      await waitForState(page, 'live');
      expect((await readStatus(page)).relay).toBe(doomed.wsUrl);
      const orphans = doomed.ffmpegChildren();
      expect(orphans.length).toBe(1);
      await page.waitForTimeout(2000);
      // No close frame, no error frame: the TCP connection just ends.
      doomed.signal('SIGKILL');
      await page.waitForFunction((url) => document.getElementById('relay')?.textContent === url, relay.wsUrl, { timeout: 20_000 });
      await waitForState(page, 'live');
      const status = await readStatus(page);
      expect(status.log).toContain(`relay failed (CONNECTION_LOST); trying ${relay.wsUrl}`);
      expect(relay.ffmpegChildren().length).toBe(1);
      await stopBroadcast(page);
      // The dead relay's FFmpeg saw its stdin end and exited by itself.
      await waitFor(() => orphans.every((pid) => !isProcessAlive(pid)), 15_000, 'the killed relay’s ffmpeg to exit');
    } finally {
      await page.close();
      await doomed.stop();
    }
  });
});
