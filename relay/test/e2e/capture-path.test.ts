/**
 * The capture path (docs/embedding.md#capture-paths) as real Chromium chooses and runs it, against
 * the harness's stand-in relay: what `auto` picks here, what the WebCodecs recorder sends first,
 * and what happens when the muxer cannot be loaded or a forced path is impossible.
 */

import { describe, expect, test } from 'bun:test';
import { standInTestBed } from './browser.ts';
import type { StandInRecord } from '../../../harness/stand-in-socket.ts';

const bed = standInTestBed();

interface Outcome {
  readonly capture: string | undefined;
  readonly mimeType: string | undefined;
  readonly error?: { code: string; message: string };
  readonly captureFallback?: string;
  /** The first bytes the relay was sent, as hex. */
  readonly head: string;
}

interface Options {
  readonly capture?: string;
  readonly preferCodec?: string;
  /** The muxer's load rejects. */
  readonly failMuxer?: boolean;
  /** The muxer's load never settles. */
  readonly stallMuxer?: boolean;
  readonly captureStartTimeoutMs?: number;
}

/** Starts a broadcast with `options` against the stand-in relay. */
async function broadcast(options: Options): Promise<Outcome> {
  const page = await bed.openClientPage();
  try {
    return await page.evaluate(async ({ capture, preferCodec, failMuxer, stallMuxer, captureStartTimeoutMs }) => {
      const moduleUrl = '/broadcast-client.js';
      const { startBroadcast } = (await import(moduleUrl)) as typeof import('../../public/broadcast-client.ts');
      const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
      const b = startBroadcast({
        relayUrl: 'ws://127.0.0.1:9/v1/stream',
        ingest: 'rtmp://127.0.0.1:1/live/',
        streamKey: 'k',
        stream,
        capture: capture as 'auto',
        preferCodec: preferCodec as 'auto',
        ...(failMuxer ? { loadMuxer: () => Promise.reject(new Error('not hosted here')) } : {}),
        ...(stallMuxer ? { loadMuxer: () => new Promise<never>(() => undefined) } : {}),
        ...(captureStartTimeoutMs ? { captureStartTimeoutMs } : {}),
      });
      let error: { code: string; message: string } | undefined;
      b.on('error', (e) => (error = { code: e.code, message: e.message }));
      const standIn = (window as unknown as { standIn: StandInRecord }).standIn;
      await Promise.race([b.done, new Promise<void>((resolve) => b.on('ready', () => setTimeout(resolve, 1500)))]);
      await b.stop();
      stream.getTracks().forEach((t) => t.stop());
      const first = new Uint8Array(standIn.head ? await standIn.head.slice(0, 4).arrayBuffer() : new ArrayBuffer(0));
      return { capture: b.capture, captureFallback: b.captureFallback, mimeType: b.mimeType, error, head: [...first].map((x) => x.toString(16).padStart(2, '0')).join('') };
    }, options);
  } finally {
    await page.close();
  }
}

const EBML_MAGIC = '1a45dfa3';

describe('capture path', () => {
  test('auto picks WebCodecs in Debian Chromium (H.264 + Opus; MediaRecorder has no AAC either); its first chunk is a Matroska header', async () => {
    const r = await broadcast({});
    expect(r.error).toBeUndefined();
    expect(r.capture).toBe('webcodecs');
    expect(r.mimeType).toMatch(/^video\/x-matroska;codecs=avc1\.42e0[0-9a-f]{2},opus$/);
    expect(r.head).toBe(EBML_MAGIC);
  });

  test('a muxer that cannot be loaded: auto records with MediaRecorder instead', async () => {
    const r = await broadcast({ failMuxer: true });
    expect(r.error).toBeUndefined();
    expect(r.capture).toBe('mediarecorder');
    expect(r.mimeType).toStartWith('video/x-matroska;codecs=avc1');
    expect(r.head).toBe(EBML_MAGIC);
  });

  test('forced WebCodecs never falls back: an unloadable muxer, or VP8, is NO_SUPPORTED_MIME_TYPE', async () => {
    const unloadable = await broadcast({ capture: 'webcodecs', failMuxer: true });
    expect(unloadable.error).toEqual({ code: 'NO_SUPPORTED_MIME_TYPE', message: expect.stringContaining('not hosted here') });
    const vp8 = await broadcast({ capture: 'webcodecs', preferCodec: 'vp8' });
    expect(vp8.error?.code).toBe('NO_SUPPORTED_MIME_TYPE');
    expect(vp8.capture).toBeUndefined();
  });

  test('a muxer load that never settles is bounded by captureStartTimeoutMs: auto records with MediaRecorder and says why; forced, CAPTURE_FAILED', async () => {
    const stalled = await broadcast({ stallMuxer: true, captureStartTimeoutMs: 5000 });
    expect(stalled.error).toBeUndefined();
    expect(stalled.capture).toBe('mediarecorder');
    expect(stalled.captureFallback).toBe('No answer within 5 s from the WebCodecs muxer\'s load.');
    expect(stalled.head).toBe(EBML_MAGIC);
    const forced = await broadcast({ capture: 'webcodecs', stallMuxer: true, captureStartTimeoutMs: 5000 });
    expect(forced.error).toEqual({ code: 'CAPTURE_FAILED', message: 'No answer within 5 s from the WebCodecs muxer\'s load.' });
    expect(forced.capture).toBeUndefined();
    // When WebCodecs starts in time, nothing is said.
    const inTime = await broadcast({});
    expect(inTime.capture).toBe('webcodecs');
    expect(inTime.captureFallback).toBeUndefined();
  });

  test('VP8 is MediaRecorder\'s alone: auto with preferCodec vp8 records VP8 in WebM', async () => {
    const r = await broadcast({ preferCodec: 'vp8' });
    expect(r.capture).toBe('mediarecorder');
    expect(r.mimeType).toStartWith('video/webm;codecs=vp8');
  });
});
