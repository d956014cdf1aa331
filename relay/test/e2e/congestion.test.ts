/**
 * The client's answer to a slow uplink, in real Chromium, on both capture paths: MediaRecorder
 * (the backlog grows until a lower bitrate or the abort mark) and WebCodecs (frames are dropped
 * before encoding, so the backlog stays bounded; the time spent dropping decides). On loopback
 * the socket never backs up, so the page's WebSocket is replaced by the harness's stand-in relay,
 * which never drains `bufferedAmount`: every chunk counts `bufferFactor` times, which turns
 * minutes of a slow link into seconds.
 */

import { describe, expect, test } from 'bun:test';
import { standInTestBed } from './browser.ts';
import type { StandInRecord } from '../../../harness/stand-in-socket.ts';

const bed = standInTestBed();

describe.each(['mediarecorder', 'webcodecs'] as const)('slow uplink, %s', (capture) => {
  test('warns, then restarts the session at a lower bitrate before the backlog grows', async () => {
    const page = await bed.openClientPage({ bufferFactor: 40 });
    try {
      const result = await page.evaluate(async (path) => {
        const moduleUrl = '/broadcast-client.js';
        const { startBroadcast } = (await import(moduleUrl)) as typeof import('../../public/broadcast-client.ts');
        const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
        const log: string[] = [];
        const b = startBroadcast({ relayUrl: 'ws://127.0.0.1:9/v1/stream', ingest: 'rtmp://127.0.0.1:1/live/', streamKey: 'k', stream, videoBitsPerSecond: 1_000_000, capture: path });
        b.on('ready', (d) => d.capture !== path && log.push(`wrong capture path: ${d.capture}`));
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
        return { log, sockets: (window as unknown as { standIn: StandInRecord }).standIn.sockets, done: await b.done };
      }, capture);
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
    const page = await bed.openClientPage({ bufferFactor: 600 });
    try {
      const result = await page.evaluate(async (path) => {
        const moduleUrl = '/broadcast-client.js';
        const { startBroadcast } = (await import(moduleUrl)) as typeof import('../../public/broadcast-client.ts');
        const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
        const log: string[] = [];
        const b = startBroadcast({ relayUrl: 'ws://127.0.0.1:9/v1/stream', ingest: 'rtmp://127.0.0.1:1/live/', streamKey: 'k', stream, adaptBitrate: false, capture: path });
        b.on('warning', (w) => log.push(`warning:${w.code}`));
        b.on('error', (e) => log.push(`error:${e.code}`));
        const done = await Promise.race([b.done, new Promise((r) => setTimeout(() => r('timeout'), 30_000))]);
        stream.getTracks().forEach((t) => t.stop());
        return { log, done, state: b.state };
      }, capture);
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
