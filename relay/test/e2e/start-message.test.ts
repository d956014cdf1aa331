/**
 * The relay protocol's start message and ready (docs/protocol.md#start-message), from the client's side, in real Chromium: the start message carries
 * the mimeType the constructed MediaRecorder reports (not merely the one asked for), and that
 * recorder starts only after `ready`. The page's WebSocket is a stand-in that logs what it is
 * sent; MediaRecorder is wrapped to log its construction and start, and (per test) to report a
 * given mimeType, as other browsers do.
 */

import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Browser } from 'playwright-core';
import { startRelay, type RelayProcess } from '../support/relay-process.ts';
import { launchBrowser } from './browser.ts';

let relay: RelayProcess;
let browser: Browser;

beforeAll(async () => {
  // Only serves the client module to the page; no session ever reaches it.
  relay = await startRelay({ RELAY_AUTH: 'none', RELAY_ALLOWED_INGESTS: 'rtmp://127.0.0.1:1' });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await relay?.stop();
});

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
  const page = await browser.newPage();
  try {
    await page.goto(`${relay.httpUrl}/healthz`);
    return await page.evaluate(
      async ({ requested, report }) => {
        const log: string[] = [];
        let chunks = 0;
        let reportedBeforeStart = '';
        class LoggedRecorder extends MediaRecorder {
          constructor(stream: MediaStream, options?: MediaRecorderOptions) {
            super(stream, options);
            log.push('recorder.new');
          }
          override get mimeType(): string {
            return report ?? super.mimeType;
          }
          override start(timeslice?: number): void {
            reportedBeforeStart = super.mimeType;
            log.push('recorder.start');
            super.start(timeslice);
          }
        }
        class StandInSocket {
          static readonly CONNECTING = 0;
          static readonly OPEN = 1;
          static readonly CLOSING = 2;
          static readonly CLOSED = 3;
          readyState = 0;
          bufferedAmount = 0;
          binaryType = 'blob';
          onopen: ((e: unknown) => void) | null = null;
          onmessage: ((e: { data: string }) => void) | null = null;
          onclose: ((e: { code: number; reason: string }) => void) | null = null;
          onerror: ((e: unknown) => void) | null = null;
          constructor(readonly url: string) {
            setTimeout(() => {
              this.readyState = 1;
              this.onopen?.({});
            }, 10);
          }
          send(data: string | Blob): void {
            if (typeof data !== 'string') {
              chunks += 1;
              return;
            }
            const message = JSON.parse(data) as { type: string; mimeType?: string };
            log.push(message.type === 'start' ? `send start ${message.mimeType}` : `send ${message.type}`);
            const reply = (m: object, ms: number) =>
              setTimeout(() => {
                if ((m as { type: string }).type === 'ready') log.push('ready');
                this.onmessage?.({ data: JSON.stringify(m) });
              }, ms);
            // A relay takes a moment to validate: a recorder started before `ready` would show up first.
            if (message.type === 'start') reply({ type: 'ready', session: 'stand-in', pipeline: 'copy' }, 300);
            if (message.type === 'stop') {
              reply({ type: 'ended' }, 10);
              setTimeout(() => this.close(1000), 20);
            }
          }
          close(code = 1000): void {
            if (this.readyState === 3) return;
            this.readyState = 3;
            setTimeout(() => this.onclose?.({ code, reason: '' }), 0);
          }
        }
        (window as unknown as { WebSocket: unknown }).WebSocket = StandInSocket;
        (window as unknown as { MediaRecorder: unknown }).MediaRecorder = LoggedRecorder;

        const moduleUrl = '/broadcast-client.js';
        const { startBroadcast } = (await import(moduleUrl)) as typeof import('../../public/broadcast-client.ts');
        const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
        const b = startBroadcast({ relayUrl: 'ws://127.0.0.1:9/v1/stream', ingest: 'rtmp://127.0.0.1:1/live/', streamKey: 'k', stream, mimeType: requested });
        const readyMime = await new Promise<string>((resolve) => b.on('ready', (d) => resolve(d.mimeType)));
        await new Promise((resolve) => setTimeout(resolve, 1000));
        await b.stop();
        stream.getTracks().forEach((t) => t.stop());
        return { log, readyMime, broadcastMime: b.mimeType, reportedBeforeStart, chunks };
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
