/**
 * The browser client's pure decisions, checked without a browser: which mimeType, which URL,
 * when to warn or lower the bitrate, which message for which code. The browser tests next to
 * this file cover the same code running for real; these pin the edge cases they cannot reach
 * (Safari and Firefox support sets, a congested uplink).
 */

import { describe, expect, test } from 'bun:test';
import { BufferWatch, DropGate, defaultBufferPolicy } from '../../public/backpressure.ts';
import { choosePath } from '../../public/capture.ts';
import { describeError } from '../../public/error-messages.ts';
import { announcedMimeType, codecsOf, describeMimeType, describePipeline, mimeTypeCandidates, pickMimeType, type PreferredCodec } from '../../public/mime-types.ts';
import { isLoopbackHost, loopbackPlaybackBase, readPageParams } from '../../public/page-params.ts';
import { PLAYBACK_PATH, codecsFromInitSegment } from '../../public/playback.ts';
import { CLOSE_CODES, errorCodeOfClose, parseRelayMessage } from '../../public/protocol.ts';
import { certificatePageUrl, toStreamUrl, toStreamUrls } from '../../public/relay-urls.ts';
import { h264Level, type WebCodecsFormat } from '../../public/webcodecs-format.ts';

const supports = (...types: string[]) => (t: string) => types.includes(t);
// What MediaRecorder.isTypeSupported answers in Debian Chromium 156 (checked with the fake camera).
const chromium = supports('video/x-matroska;codecs=avc1,opus', 'video/webm;codecs=h264,opus', 'video/mp4', 'video/webm;codecs=vp8,opus', 'video/webm');
const safari = supports('video/mp4;codecs=avc1,mp4a', 'video/mp4');
const firefox = supports('video/webm;codecs=vp8,opus', 'video/webm');
// Chrome on Windows and macOS records AAC in MP4 too, besides everything Linux's can.
const chromeWithAac = supports('video/mp4;codecs=avc1,mp4a.40.2', 'video/mp4;codecs=avc1,opus', 'video/x-matroska;codecs=avc1,opus', 'video/webm;codecs=vp8,opus');

describe('mimeType choice', () => {
  test('H.264 + AAC first (both copied), then H.264 + Opus, then VP8', () => {
    expect(pickMimeType('auto', chromeWithAac)).toBe('video/mp4;codecs=avc1,mp4a.40.2');
    expect(pickMimeType('auto', safari)).toBe('video/mp4;codecs=avc1,mp4a');
    expect(pickMimeType('auto', chromium)).toBe('video/x-matroska;codecs=avc1,opus');
    expect(pickMimeType('auto', supports('video/mp4;codecs=avc1,opus', 'video/webm;codecs=vp8,opus'))).toBe('video/mp4;codecs=avc1,opus');
    expect(pickMimeType('auto', firefox)).toBe('video/webm;codecs=vp8,opus');
    expect(pickMimeType('h264', chromeWithAac)).toBe('video/mp4;codecs=avc1,mp4a.40.2');
  });
  test('the page names the choice, audio included', () => {
    expect(describeMimeType('video/mp4;codecs=avc1,mp4a.40.2')).toBe('H.264 + AAC in MP4');
    expect(describeMimeType('video/x-matroska;codecs=avc1,opus')).toBe('H.264 + Opus in Matroska');
  });
  test('the page says which streams the relay copies', () => {
    expect(describePipeline('copy', 'video/x-matroska;codecs=avc1.42e01f,mp4a.40.2')).toStartWith('copy (H.264 and AAC passed through');
    expect(describePipeline('copy', 'video/mp4')).toStartWith('copy (H.264 and AAC passed through');
    expect(describePipeline('copy', 'video/x-matroska;codecs=avc1.42e01f,opus')).toStartWith('copy (H.264 passed through, audio to AAC');
    expect(describePipeline('transcode', 'video/webm;codecs=vp8,opus')).toStartWith('transcode');
  });
  test('preferCodec forces VP8, and h264 refuses to fall back', () => {
    expect(pickMimeType('vp8', chromium)).toBe('video/webm;codecs=vp8,opus');
    expect(pickMimeType('h264', firefox)).toBeUndefined();
  });
  test('every candidate names its video codec: the relay never has to guess from a bare container', () => {
    for (const prefer of ['auto', 'h264', 'vp8'] as PreferredCodec[]) {
      for (const type of mimeTypeCandidates(prefer)) expect(codecsOf(type).length).toBeGreaterThan(0);
    }
    // A browser claiming only the bare containers gets no mimeType rather than a guessed one.
    expect(pickMimeType('auto', supports('video/mp4', 'video/webm'))).toBeUndefined();
    // Safari without the AAC-named types: H.264 named, the audio left to the relay to re-encode.
    expect(pickMimeType('auto', supports('video/mp4;codecs=avc1', 'video/mp4'))).toBe('video/mp4;codecs=avc1');
  });
  test('the start message announces what the recorder reports when it names its codecs', () => {
    expect(codecsOf('video/mp4; codecs="avc1.42E01F, mp4a.40.2"')).toEqual(['avc1.42E01F', 'mp4a.40.2']);
    expect(codecsOf('video/webm')).toEqual([]);
    // More specific, or different from what was asked: the report is what the browser records.
    expect(announcedMimeType('video/mp4;codecs=avc1', 'video/mp4; codecs="avc1.42E01F,opus"')).toBe('video/mp4; codecs="avc1.42E01F,opus"');
    expect(announcedMimeType('video/x-matroska;codecs=avc1,opus', 'video/x-matroska;codecs=avc1,opus')).toBe('video/x-matroska;codecs=avc1,opus');
    // A report that says less (empty, a bare container) never replaces the request.
    expect(announcedMimeType('video/mp4;codecs=avc1,mp4a', 'video/mp4')).toBe('video/mp4;codecs=avc1,mp4a');
    expect(announcedMimeType('video/webm;codecs=vp8,opus', '')).toBe('video/webm;codecs=vp8,opus');
    expect(announcedMimeType('video/webm;codecs=vp8,opus', undefined)).toBe('video/webm;codecs=vp8,opus');
  });
  test('labels', () => {
    expect(describeMimeType('video/x-matroska;codecs=avc1,opus')).toBe('H.264 + Opus in Matroska');
    expect(describeMimeType('video/mp4;codecs=avc1,mp4a')).toBe('H.264 + AAC in MP4');
    expect(describeMimeType('video/webm;codecs=vp8,opus')).toBe('VP8 + Opus in WebM');
  });
});

describe('relay addresses', () => {
  test('page URLs and bare hosts become /v1/stream endpoints', () => {
    expect(toStreamUrl('https://relay.example.com:8443')).toBe('wss://relay.example.com:8443/v1/stream');
    expect(toStreamUrl('http://127.0.0.1:9000/')).toBe('ws://127.0.0.1:9000/v1/stream');
    expect(toStreamUrl('203.0.113.7:8443')).toBe('wss://203.0.113.7:8443/v1/stream');
    expect(toStreamUrl('wss://r.example.com/custom/path')).toBe('wss://r.example.com/custom/path');
    expect(() => toStreamUrl('ftp://x')).toThrow();
  });
  test('a list keeps its failover order', () => {
    expect(toStreamUrls('wss://a:1, wss://b:2')).toEqual(['wss://a:1/v1/stream', 'wss://b:2/v1/stream']);
  });
  test('the certificate page is the relay’s own https URL', () => {
    expect(certificatePageUrl('wss://203.0.113.7:8443/v1/stream')).toBe('https://203.0.113.7:8443/healthz');
    expect(certificatePageUrl('ws://127.0.0.1:1/v1/stream')).toBeUndefined();
  });
});

describe('upload backlog', () => {
  const policy = defaultBufferPolicy(2_628_000); // 2.5 Mbps video + 128 kbps audio
  test('warns once at ~1 s of media, lowers the bitrate after a 2 s backlog, aborts before memory runs away', () => {
    let now = 0;
    const watch = new BufferWatch(policy, () => now);
    expect(watch.sample(10_000)).toBe('ok');
    expect(watch.sample(policy.warnBytes)).toBe('warn');
    expect(watch.sample(policy.warnBytes + 1)).toBe('ok');
    expect(watch.sample(policy.reduceBytes)).toBe('ok');
    now += policy.reduceAfterMs;
    expect(watch.sample(policy.reduceBytes)).toBe('reduce');
    now += policy.reduceAfterMs;
    expect(watch.sample(policy.reduceBytes)).toBe('ok');
    expect(watch.sample(policy.abortBytes)).toBe('abort');
  });
  test('a drained backlog re-arms the warning', () => {
    const watch = new BufferWatch(policy, () => 0);
    expect(watch.sample(policy.warnBytes)).toBe('warn');
    expect(watch.sample(0)).toBe('ok');
    expect(watch.sample(policy.warnBytes)).toBe('warn');
  });
  test('thresholds never drop below sane floors at low bitrates', () => {
    const low = defaultBufferPolicy(100_000);
    expect(low.warnBytes).toBeGreaterThanOrEqual(256 * 1024);
    expect(low.abortBytes).toBeGreaterThanOrEqual(16 * 1024 * 1024);
  });
  test('a recorder that drops frames: drops from ~1 s of backlog until half of it is left; 2 s of dropping lowers the bitrate, 20 s gives up', () => {
    let now = 0;
    const gate = new DropGate(policy, () => now);
    expect(gate.sample(policy.warnBytes - 1)).toEqual({ drop: false, reduce: false, abort: false });
    expect(gate.sample(policy.warnBytes)).toEqual({ drop: true, reduce: false, abort: false });
    now += 1000;
    // Between the marks the gate stays as it is (no flapping on every chunk).
    expect(gate.sample(policy.warnBytes * 0.6).drop).toBe(true);
    expect(gate.sample(policy.warnBytes * 0.4)).toEqual({ drop: false, reduce: false, abort: false });
    now += 5000; // not dropping: this time does not count
    expect(gate.sample(policy.warnBytes * 0.6).drop).toBe(false);
    expect(gate.sample(policy.warnBytes).drop).toBe(true);
    now += policy.reduceAfterMs - 1000;
    expect(gate.sample(policy.warnBytes)).toEqual({ drop: true, reduce: true, abort: false });
    now += 1000;
    expect(gate.sample(policy.warnBytes).reduce).toBe(false); // once per congestion
    now += policy.abortAfterMs;
    expect(gate.sample(policy.warnBytes).abort).toBe(true);
  });
  test('a drained backlog ends the congestion: the dropping time starts again from nothing', () => {
    let now = 0;
    const gate = new DropGate(policy, () => now);
    gate.sample(policy.warnBytes);
    now += policy.reduceAfterMs - 1;
    gate.sample(0);
    gate.sample(policy.warnBytes);
    now += policy.reduceAfterMs - 1;
    expect(gate.sample(policy.warnBytes).reduce).toBe(false);
  });
});

describe('capture path', () => {
  const opus: WebCodecsFormat = { videoCodec: 'avc1.42e01f', audioCodec: 'opus', mimeType: 'video/x-matroska;codecs=avc1.42e01f,opus' };
  const aac: WebCodecsFormat = { videoCodec: 'avc1.42e01f', audioCodec: 'aac', mimeType: 'video/x-matroska;codecs=avc1.42e01f,mp4a.40.2' };
  test('auto takes WebCodecs, unless it would send Opus where MediaRecorder records AAC (both copied)', () => {
    expect(choosePath('auto', 'auto', 'video/x-matroska;codecs=avc1,opus', opus)).toBe('webcodecs'); // Chromium on Linux
    expect(choosePath('auto', 'auto', 'video/mp4;codecs=avc1,mp4a.40.2', aac)).toBe('webcodecs'); // Chrome on Windows, macOS
    expect(choosePath('auto', 'auto', 'video/mp4;codecs=avc1,mp4a', opus)).toBe('mediarecorder');
    expect(choosePath('auto', 'auto', 'video/mp4', opus)).toBe('mediarecorder'); // a bare MP4 is H.264 + AAC
    expect(choosePath('auto', 'auto', 'video/webm;codecs=vp8,opus', opus)).toBe('webcodecs'); // Firefox: H.264 instead of a transcode
    expect(choosePath('auto', 'auto', 'video/webm;codecs=vp8,opus', undefined)).toBe('mediarecorder');
    expect(choosePath('auto', 'auto', undefined, undefined)).toBeUndefined();
  });
  test('a forced path never falls back; VP8 exists only on MediaRecorder', () => {
    expect(choosePath('webcodecs', 'auto', 'video/mp4;codecs=avc1,mp4a', opus)).toBe('webcodecs');
    expect(choosePath('webcodecs', 'auto', 'video/webm;codecs=vp8,opus', undefined)).toBeUndefined();
    expect(choosePath('webcodecs', 'vp8', 'video/webm;codecs=vp8,opus', opus)).toBeUndefined();
    expect(choosePath('mediarecorder', 'auto', 'video/x-matroska;codecs=avc1,opus', aac)).toBe('mediarecorder');
    expect(choosePath('mediarecorder', 'h264', undefined, aac)).toBeUndefined();
    expect(choosePath('auto', 'vp8', 'video/webm;codecs=vp8,opus', aac)).toBe('mediarecorder');
  });
  test('the H.264 level fits the size and the frame rate', () => {
    expect(h264Level(640, 480, 30)).toBe('1f');
    expect(h264Level(1280, 720, 30)).toBe('1f');
    expect(h264Level(1280, 720, 60)).toBe('20');
    expect(h264Level(1920, 1080, 30)).toBe('28');
    expect(h264Level(1920, 1080, 60)).toBe('2a');
    expect(h264Level(3840, 2160, 30)).toBe('33');
    expect(h264Level(7680, 4320, 30)).toBeUndefined();
  });
});

describe('protocol and messages', () => {
  test('close codes map back to their code strings; foreign ones to nothing', () => {
    expect(errorCodeOfClose(4013)).toBe('UNAVAILABLE');
    expect(errorCodeOfClose(1009)).toBe('MESSAGE_TOO_BIG');
    expect(errorCodeOfClose(1006)).toBeUndefined();
  });
  test('relay messages parse; unknown ones are ignored', () => {
    expect(parseRelayMessage('{"type":"ready","session":"s","pipeline":"copy"}')).toEqual({ type: 'ready', session: 's', pipeline: 'copy' });
    expect(parseRelayMessage('{"type":"future"}')).toBeUndefined();
    expect(parseRelayMessage('not json')).toBeUndefined();
  });
  test('every close code of the protocol has its own advice', () => {
    const generic = describeError('SOMETHING_NEW').title;
    for (const code of Object.keys(CLOSE_CODES)) expect(describeError(code).title).not.toBe(generic);
    expect(describeError('UNAUTHORIZED').title).toContain('token');
  });
});

describe('page parameters', () => {
  test('secrets in the query string are scrubbed from the address bar', () => {
    const replaced: string[] = [];
    const location = { href: 'http://127.0.0.1:1/?ingest=rtmp%3A%2F%2Fh%2Flive%2F&key=SECRET&token=T' } as Location;
    const history = { replaceState: (_s: unknown, _t: string, url: string) => replaced.push(url) } as unknown as History;
    const params = readPageParams(location, history);
    expect(params.ingest).toBe('rtmp://h/live/');
    expect(params.scrubbedSecret).toBe(true);
    expect(replaced).toEqual(['http://127.0.0.1:1/?ingest=rtmp%3A%2F%2Fh%2Flive%2F']);
  });
});

describe('crafted links cannot redirect secrets', () => {
  const history = { replaceState: () => undefined } as unknown as History;
  const read = (href: string) => readPageParams({ href } as Location, history);

  test('no relay address is taken from the URL: the token and key only go to a relay the user typed (or this page’s own)', () => {
    const params = read('https://relay.example.com:8443/?relay=wss%3A%2F%2Fevil.example%3A443&ingest=rtmps%3A%2F%2Fx%2Fapp%2F');
    expect(params.ingest).toBe('rtmps://x/app/');
    expect('relays' in params).toBe(false);
    expect(JSON.stringify(params)).not.toContain('evil');
  });
  test('a relay on the internet never honours ?playback=, whatever it points at', () => {
    expect(read('https://relay.example.com:8443/?playback=https%3A%2F%2Fevil.example%2F').playback).toBeUndefined();
    expect(read('https://relay.example.com:8443/?playback=http%3A%2F%2F127.0.0.1%3A9000%2F').playback).toBeUndefined();
    expect(read('https://203.0.113.7:8443/?playback=http%3A%2F%2F127.0.0.1%3A9000%2F').playback).toBeUndefined();
  });
  test('the local demo honours ?playback= only on loopback, reduced to its origin', () => {
    expect(read('http://127.0.0.1:8443/?playback=http%3A%2F%2F127.0.0.1%3A9000%2F').playback).toBe('http://127.0.0.1:9000/');
    expect(read('http://localhost:8443/?playback=http://localhost:9000/x/y?z').playback).toBe('http://localhost:9000/');
    expect(read('http://[::1]:8443/?playback=http://[::1]:9000/').playback).toBe('http://[::1]:9000/');
    for (const evil of [
      'https://evil.example/',
      'http://127.0.0.1.evil.example/',
      'http://127.0.0.1@evil.example/',
      'http://user:pw@127.0.0.1:9000/',
      'http://localhost.evil.example/',
      'javascript:alert(1)',
      'file:///etc/passwd',
      'not a url',
    ]) {
      expect(read(`http://127.0.0.1:8443/?playback=${encodeURIComponent(evil)}`).playback).toBeUndefined();
    }
  });
  test('loopback names, as URL spells hostnames', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '[::1]']) expect(isLoopbackHost(host)).toBe(true);
    for (const host of ['128.0.0.1', '10.0.0.1', '0.0.0.0', 'evil.example', '127.0.0.1.evil.example', 'x.localhost', '[::2]']) {
      expect(isLoopbackHost(host)).toBe(false);
    }
    // URL normalizes other spellings of 127.0.0.1 first.
    expect(isLoopbackHost(new URL('http://0x7f.1/').hostname)).toBe(true);
    expect(loopbackPlaybackBase(new URL('http://127.0.0.1:1/'), 'http://2130706433:9000/')).toBe('http://127.0.0.1:9000/');
  });
  test('the playback route names no stream key', () => {
    expect(new URL(PLAYBACK_PATH, 'http://127.0.0.1:9000/').toString()).toBe('http://127.0.0.1:9000/current.mp4');
  });
});

describe('demo playback', () => {
  test('codecs come from the init segment', () => {
    const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
    const body = [...ascii('trak'), 0, 0, 0, 0, ...ascii('avcC'), 1, 0x42, 0xc0, 0x1f, ...ascii('mp4a')];
    const size = body.length + 8;
    const moov = new Uint8Array([0, 0, 0, size, ...ascii('moov'), ...body]);
    expect(codecsFromInitSegment(moov)).toBe('avc1.42c01f,mp4a.40.2');
    expect(codecsFromInitSegment(moov.subarray(0, 12))).toBeUndefined();
  });
});
