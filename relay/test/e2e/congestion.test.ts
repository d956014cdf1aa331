/**
 * The client's answer to a slow uplink, in real Chromium with a real MediaRecorder. On loopback
 * the socket never backs up, so the page's WebSocket is replaced by a stand-in that speaks
 * the relay protocol (ready, ended) but never drains `bufferedAmount`: every chunk counts `factor` times,
 * which turns minutes of a slow link into seconds.
 */

import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Browser, Page } from 'playwright-core';
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

/** Installs the never-draining WebSocket stand-in in the page. */
async function installSlowSocket(page: Page, factor: number): Promise<void> {
  await page.evaluate((f) => {
    class SlowSocket {
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
        (window as unknown as { sockets: SlowSocket[] }).sockets.push(this);
        setTimeout(() => {
          this.readyState = 1;
          this.onopen?.({});
        }, 10);
      }
      send(data: string | Blob): void {
        if (typeof data !== 'string') {
          this.bufferedAmount += data.size * f;
          return;
        }
        const message = JSON.parse(data) as { type: string };
        const reply = (m: object) => setTimeout(() => this.onmessage?.({ data: JSON.stringify(m) }), 10);
        if (message.type === 'start') reply({ type: 'ready', session: `fake-${Date.now()}`, pipeline: 'copy' });
        if (message.type === 'stop') {
          reply({ type: 'ended' });
          setTimeout(() => this.close(1000), 20);
        }
      }
      close(code = 1000): void {
        if (this.readyState === 3) return;
        this.readyState = 3;
        setTimeout(() => this.onclose?.({ code, reason: '' }), 0);
      }
    }
    (window as unknown as { sockets: SlowSocket[] }).sockets = [];
    (window as unknown as { WebSocket: unknown }).WebSocket = SlowSocket;
  }, factor);
}

describe('slow uplink', () => {
  test('warns, then restarts the session at a lower bitrate before the backlog grows', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${relay.httpUrl}/healthz`);
      await installSlowSocket(page, 40);
      const result = await page.evaluate(async () => {
        const moduleUrl = '/broadcast-client.js';
        const { startBroadcast } = (await import(moduleUrl)) as typeof import('../../public/broadcast-client.ts');
        const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
        const log: string[] = [];
        const b = startBroadcast({ relayUrl: 'ws://127.0.0.1:9/v1/stream', ingest: 'rtmp://127.0.0.1:1/live/', streamKey: 'k', stream, videoBitsPerSecond: 1_000_000 });
        b.on('connecting', (d) => log.push(`connecting:${d.reason}`));
        b.on('ready', (d) => log.push(`ready:${d.videoBitsPerSecond}`));
        b.on('warning', (w) => log.push(`warning:${w.code}`));
        b.on('error', (e) => log.push(`error:${e.code}`));
        await new Promise<void>((resolve, reject) => {
          b.on('ready', (d) => d.videoBitsPerSecond < 1_000_000 && resolve());
          setTimeout(() => reject(new Error(`no lower-bitrate restart: ${log.join(' ')}`)), 20_000);
        });
        await b.stop();
        stream.getTracks().forEach((t) => t.stop());
        return { log, sockets: (window as unknown as { sockets: unknown[] }).sockets.length, done: await b.done };
      });
      expect(result.log.slice(0, 2)).toEqual(['connecting:start', 'ready:1000000']);
      expect(result.log).toContain('warning:CONGESTED');
      const lowered = result.log.indexOf('warning:BITRATE_LOWERED');
      expect(lowered).toBeGreaterThan(result.log.indexOf('warning:CONGESTED'));
      expect(result.log.slice(lowered + 1, lowered + 3)).toEqual(['connecting:bitrate', 'ready:600000']);
      expect(result.log.some((l) => l.startsWith('error'))).toBe(false);
      expect(result.sockets).toBe(2);
      expect(result.done).toEqual({ reason: 'stopped' });
    } finally {
      await page.close();
    }
  });

  test('with adaptBitrate off it warns, and gives up with CONGESTED before memory runs away', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${relay.httpUrl}/healthz`);
      await installSlowSocket(page, 600);
      const result = await page.evaluate(async () => {
        const moduleUrl = '/broadcast-client.js';
        const { startBroadcast } = (await import(moduleUrl)) as typeof import('../../public/broadcast-client.ts');
        const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
        const log: string[] = [];
        const b = startBroadcast({ relayUrl: 'ws://127.0.0.1:9/v1/stream', ingest: 'rtmp://127.0.0.1:1/live/', streamKey: 'k', stream, adaptBitrate: false });
        b.on('warning', (w) => log.push(`warning:${w.code}`));
        b.on('error', (e) => log.push(`error:${e.code}`));
        const done = await Promise.race([b.done, new Promise((r) => setTimeout(() => r('timeout'), 30_000))]);
        stream.getTracks().forEach((t) => t.stop());
        return { log, done, state: b.state };
      });
      expect(result.log[0]).toBe('warning:CONGESTED');
      expect(result.log).not.toContain('warning:BITRATE_LOWERED');
      expect(result.log.at(-1)).toBe('error:CONGESTED');
      expect(result.done).toEqual({ reason: 'error', code: 'CONGESTED' });
      expect(result.state).toBe('failed');
    } finally {
      await page.close();
    }
  });
});
