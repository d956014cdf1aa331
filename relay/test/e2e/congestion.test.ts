/**
 * The client's answer to a socket that never drains, in real Chromium, on both capture paths:
 * MediaRecorder (the backlog grows until a restart at a lower bitrate or the abort mark) and
 * WebCodecs (the encoder's bitrate follows the measured uplink in place, frames are dropped before
 * encoding meanwhile, and a link below the minimum ends the broadcast). The page's WebSocket is
 * replaced by the harness's stand-in relay, which never drains `bufferedAmount`: every chunk counts
 * `bufferFactor` times, which turns minutes of a stalled link into seconds. A real slow link, with
 * a rate, is uplink.test.ts.
 */

import { describe, expect, test } from 'bun:test';
import { standInTestBed } from './browser.ts';
import type { StandInRecord } from '../../../harness/stand-in-socket.ts';

const bed = standInTestBed();

describe.each(['mediarecorder'] as const)('slow uplink, %s', (capture) => {
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
});

describe('slow uplink, webcodecs', () => {
  // Changed with issue #23: WebCodecs used to restart at a lower bitrate like MediaRecorder; it now
  // lowers the encoder's bitrate in place (docs/embedding.md#slow-uplinks).
  test('lowers the bitrate in place (one socket, one ready, `bitrate` events), then ends with CONGESTED saying what the link carried', async () => {
    const page = await bed.openClientPage({ bufferFactor: 40 });
    try {
      const result = await page.evaluate(async () => {
        const moduleUrl = '/broadcast-client.js';
        const { startBroadcast } = (await import(moduleUrl)) as typeof import('../../public/broadcast-client.ts');
        const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
        const log: string[] = [];
        const targets: number[] = [];
        let message = '';
        const b = startBroadcast({ relayUrl: 'ws://127.0.0.1:9/v1/stream', ingest: 'rtmp://127.0.0.1:1/live/', streamKey: 'k', stream, videoBitsPerSecond: 1_000_000, capture: 'webcodecs' });
        b.on('connecting', (d) => log.push(`connecting:${d.reason}`));
        b.on('ready', (d) => log.push(`ready:${d.capture}:${d.videoBitsPerSecond}`));
        b.on('bitrate', (d) => targets.push(d.videoBitsPerSecond));
        b.on('warning', (w) => log.push(`warning:${w.code}`));
        b.on('error', (e) => (log.push(`error:${e.code}`), (message = e.message)));
        // 10 s at the minimum, and the time to get there: bounded well beyond both.
        const done = await Promise.race([b.done, new Promise((r) => setTimeout(() => r('timeout'), 40_000))]);
        stream.getTracks().forEach((t) => t.stop());
        const sockets = (window as unknown as { standIn: StandInRecord }).standIn.sockets;
        return { log, targets, message, done, lowest: b.videoBitsPerSecond, sockets };
      });
      expect(result.log[0]).toBe('connecting:start');
      expect(result.log[1]).toBe('ready:webcodecs:1000000');
      // In place: no second connection, no second recording, no restart warning.
      expect(result.log.filter((l) => l.startsWith('connecting') || l.startsWith('ready'))).toHaveLength(2);
      expect(result.log).not.toContain('warning:BITRATE_LOWERED');
      expect(result.sockets).toBe(1);
      expect(result.targets[0]).toBe(1_000_000);
      expect(result.targets).toContain(500_000);
      expect(result.lowest).toBe(500_000);
      expect(result.log.at(-1)).toBe('error:CONGESTED');
      // A socket that never drains carried nothing.
      expect(result.message).toStartWith('The upload carried 0.00 Mbit/s for 10 s, less than the lowest bitrate needs (0.50 Mbit/s of video and 0.13 Mbit/s of audio)');
      expect(result.done).toEqual({ reason: 'error', code: 'CONGESTED' });
    } finally {
      await page.close();
    }
  });
});

describe.each(['mediarecorder', 'webcodecs'] as const)('slow uplink without adaptation, %s', (capture) => {
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
