/**
 * The start message and `ready` (docs/protocol.md#start-message) from the client's side, in real
 * Chromium: the start message carries the mimeType the constructed MediaRecorder reports (not
 * merely the one asked for), and that recorder starts only after `ready`. The page's WebSocket is
 * the harness's stand-in relay, which logs what it is sent; MediaRecorder is wrapped to log its construction and start, and (per test) to report a
 * given mimeType, as other browsers do.
 */

import { describe, expect, test } from 'bun:test';
import { standInTestBed } from './browser.ts';
import type { StandInRecord } from '../../../harness/stand-in-socket.ts';

const bed = standInTestBed();

interface Run {
  /** `recorder.new`, `send start <mimeType>`, `ready`, `recorder.start`, in order. */
  readonly log: string[];
  readonly readyMime: string;
  readonly broadcastMime: string | undefined;
  readonly reportedBeforeStart: string;
  readonly chunks: number;
}

/** One broadcast against the stand-in relay; `report` overrides what MediaRecorder.mimeType says. */
async function run(requested: string, report: string | undefined): Promise<Run> {
  // A relay takes a moment to validate: a recorder started before `ready` would show up first.
  const page = await bed.openClientPage({ readyDelayMs: 300 });
  try {
    return await page.evaluate(
      async ({ requested: wanted, report: reported }) => {
        const standIn = (window as unknown as { standIn: StandInRecord }).standIn;
        const log = standIn.log;
        let reportedBeforeStart = '';
        class LoggedRecorder extends MediaRecorder {
          constructor(stream: MediaStream, options?: MediaRecorderOptions) {
            super(stream, options);
            log.push('recorder.new');
          }
          override get mimeType(): string {
            return reported ?? super.mimeType;
          }
          override start(timeslice?: number): void {
            reportedBeforeStart = super.mimeType;
            log.push('recorder.start');
            super.start(timeslice);
          }
        }
        (window as unknown as { MediaRecorder: unknown }).MediaRecorder = LoggedRecorder;

        const moduleUrl = '/broadcast-client.js';
        const { startBroadcast } = (await import(moduleUrl)) as typeof import('../../public/broadcast-client.ts');
        const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
        const b = startBroadcast({ relayUrl: 'ws://127.0.0.1:9/v1/stream', ingest: 'rtmp://127.0.0.1:1/live/', streamKey: 'k', stream, mimeType: wanted });
        const readyMime = await new Promise<string>((resolve) => b.on('ready', (d) => resolve(d.mimeType)));
        await new Promise((resolve) => setTimeout(resolve, 1000));
        await b.stop();
        stream.getTracks().forEach((t) => t.stop());
        return { log, readyMime, broadcastMime: b.mimeType, reportedBeforeStart, chunks: standIn.chunks };
      },
      { requested, report },
    );
  } finally {
    await page.close();
  }
}

describe('start message', () => {
  const requested = 'video/x-matroska;codecs=avc1,opus';

  test('announces the recorder’s report when it is more specific; the recorder starts only after ready', async () => {
    const reported = 'video/x-matroska;codecs=avc1.42E01F,opus';
    const r = await run(requested, reported);
    expect(r.log.slice(0, 4)).toEqual(['recorder.new', `send start ${reported}`, 'ready', 'recorder.start']);
    expect(r.readyMime).toBe(reported);
    expect(r.broadcastMime).toBe(reported);
    expect(r.chunks).toBeGreaterThan(0);
  });

  test('keeps the request when the report names no codecs', async () => {
    const r = await run(requested, 'video/x-matroska');
    expect(r.log.slice(0, 4)).toEqual(['recorder.new', `send start ${requested}`, 'ready', 'recorder.start']);
    expect(r.broadcastMime).toBe(requested);
  });

  test('unwrapped Chromium: the announced type is what its recorder reports', async () => {
    const r = await run(requested, undefined);
    expect(r.log.slice(0, 4)).toEqual(['recorder.new', `send start ${r.reportedBeforeStart}`, 'ready', 'recorder.start']);
    expect(r.broadcastMime).toBe(r.reportedBeforeStart);
  });
});

describe('the token function', () => {
  test('one that never answers ends the broadcast with TOKEN_FAILED after connectTimeoutMs, before any socket', async () => {
    const page = await bed.openClientPage();
    try {
      const result = await page.evaluate(async () => {
        const moduleUrl = '/broadcast-client.js';
        const { startBroadcast } = (await import(moduleUrl)) as typeof import('../../public/broadcast-client.ts');
        const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
        const started = performance.now();
        const b = startBroadcast({
          relayUrl: 'ws://127.0.0.1:9/v1/stream',
          ingest: 'rtmp://127.0.0.1:1/live/',
          streamKey: 'k',
          stream,
          capture: 'mediarecorder',
          connectTimeoutMs: 500,
          token: () => new Promise<string>(() => undefined),
        });
        let error: { code: string; message: string } | undefined;
        b.on('error', (e) => (error = { code: e.code, message: e.message }));
        const done = await Promise.race([b.done, new Promise((resolve) => setTimeout(() => resolve('still waiting'), 10_000))]);
        stream.getTracks().forEach((t) => t.stop());
        return { done, error, ms: performance.now() - started, sockets: (window as unknown as { standIn: StandInRecord }).standIn.sockets };
      });
      expect(result.done).toEqual({ reason: 'error', code: 'TOKEN_FAILED' });
      expect(result.error).toEqual({ code: 'TOKEN_FAILED', message: 'The token function gave no token within 0.5 s.' });
      expect(result.ms).toBeLessThan(5000);
      expect(result.sockets).toBe(0);
    } finally {
      await page.close();
    }
  });
});
