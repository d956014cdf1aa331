import { describe, expect, test } from 'bun:test';
import { checkDestination, checkStreamKey, parseAllowList } from '../../src/destination.ts';

const allow = parseAllowList('rtmps://*.global-contribute.live-video.net,rtmp://127.0.0.1:19350,rtmp://ingest.example.com');

function publishUrl(ingest: string, key = 'sk_abc'): string | undefined {
  const r = checkDestination(ingest, key, allow);
  return r.ok ? r.publishUrl : undefined;
}

describe('destination allow-list', () => {
  test('wildcard matches one or more labels, default port only', () => {
    expect(publishUrl('rtmps://abc.global-contribute.live-video.net:443/app/')).toBe('rtmps://abc.global-contribute.live-video.net:443/app/sk_abc');
    expect(publishUrl('rtmps://a.b.global-contribute.live-video.net/app')).toBe('rtmps://a.b.global-contribute.live-video.net:443/app/sk_abc');
    expect(publishUrl('rtmps://global-contribute.live-video.net/app/')).toBeUndefined();
    expect(publishUrl('rtmps://abc.global-contribute.live-video.net:4443/app/')).toBeUndefined();
    expect(publishUrl('rtmp://abc.global-contribute.live-video.net/app/')).toBeUndefined();
    expect(publishUrl('rtmps://abc.global-contribute.live-video.net.evil.com/app/')).toBeUndefined();
    expect(publishUrl('rtmps://evilglobal-contribute.live-video.net/app/')).toBeUndefined();
  });

  test('explicit ports and exact hosts', () => {
    expect(publishUrl('rtmp://127.0.0.1:19350/live/')).toBe('rtmp://127.0.0.1:19350/live/sk_abc');
    expect(publishUrl('rtmp://127.0.0.1/live/')).toBeUndefined();
    expect(publishUrl('rtmp://127.0.0.1:19351/live/')).toBeUndefined();
    expect(publishUrl('rtmp://ingest.example.com/live')).toBe('rtmp://ingest.example.com:1935/live/sk_abc');
    expect(publishUrl('rtmp://INGEST.example.com:1935/live/')).toBe('rtmp://ingest.example.com:1935/live/sk_abc');
  });

  test('never a file, another scheme, credentials, query or odd characters', () => {
    for (const bad of [
      'file:///etc/passwd', 'http://127.0.0.1:19350/live/', 'rtmpt://127.0.0.1:19350/live/', 'tcp://127.0.0.1:19350',
      'rtmp://user:pw@127.0.0.1:19350/live/', 'rtmp://127.0.0.1:19350/live/?x=1', 'rtmp://127.0.0.1:19350/live/#x',
      'rtmp://127.0.0.1:19350/li ve/', 'rtmp://[::1]:19350/live/', 'rtmp://127.0.0.1:19350\\@evil.com/live/',
      ' rtmp://127.0.0.1:19350/live/', 'rtmp://127.0.0.1:19350/live/\n',
    ]) {
      expect(publishUrl(bad)).toBeUndefined();
    }
    expect(publishUrl('rtmp://127.0.0.1:19350/live/', 'key with space')).toBeUndefined();
    expect(publishUrl('rtmp://127.0.0.1:19350/live/', 'key\u0000')).toBeUndefined();
  });

  test('refusal reasons never contain the stream key', () => {
    const r = checkDestination('rtmp://evil.example.org/live/', 'sk_very_secret_key', allow);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).not.toContain('sk_very_secret_key');
  });

  test('malformed allow-lists are rejected', () => {
    for (const bad of ['', 'http://x.com', 'rtmp://x.com/path', 'rtmp://x..com', 'rtmp://x.com:99999', 'rtmp://*x.com']) {
      expect(() => parseAllowList(bad)).toThrow();
    }
  });

  test('a wildcard pattern must end in at least two literal labels: no open relay', () => {
    for (const bad of ['rtmps://*', 'rtmp://*.*', 'rtmps://*.com', 'rtmps://*.*.com', 'rtmps://example.*', 'rtmps://*.example.*', 'rtmp://*.0.1', 'rtmp://*:1935']) {
      expect(() => parseAllowList(bad)).toThrow(/too broad/);
    }
    expect(parseAllowList('rtmp://*.example.com')[0]!.host.test('a.example.com')).toBe(true);
    expect(parseAllowList('rtmp://a.*.example.com')[0]!.host.test('a.b.c.example.com')).toBe(true);
    // Exact hosts, IPv4 addresses and single-label names need no tail.
    expect(parseAllowList('rtmp://127.0.0.1:1935,rtmp://localhost')).toHaveLength(2);
  });

  test('the scheme is case-insensitive; the publish URL carries it in lower case', () => {
    expect(publishUrl('RTMPS://abc.global-contribute.live-video.net:443/app/')).toBe('rtmps://abc.global-contribute.live-video.net:443/app/sk_abc');
    expect(publishUrl('Rtmp://127.0.0.1:19350/live/')).toBe('rtmp://127.0.0.1:19350/live/sk_abc');
    expect(publishUrl('RTMP://abc.global-contribute.live-video.net/app/')).toBeUndefined();
  });

  test('stream keys FFmpeg would not send as given are a bad request, with a reason that does not quote them', () => {
    const ingest = 'rtmp://127.0.0.1:19350/live/';
    for (const key of ['sk_a/b_secret', '/sk_secret', 'sk_secret/', 'sk_secret.flv', 'sk_secret.mp4', 'sk_secret.f4v', 'sk_secret.FLV', 'sk secret', 'sk_secret\n',
      // FFmpeg reads `?slist=` as the stream name, and ingests drop a query from the name.
      'sk_secret?slist=other', 'live_secret?bandwidthtest=true', 'sk_secret?']) {
      const r = checkDestination(ingest, key, allow);
      expect(r).toMatchObject({ ok: false, code: 'BAD_REQUEST' });
      if (!r.ok) expect(r.reason).not.toContain('secret');
      expect(checkStreamKey(key)).toBeString();
    }
    // Without a `?`, `&`, `=`, `;`, `:`, `@` and `%` are plain characters of the stream name.
    for (const key of ['sk_us-west-2_AbCdEf0123', 'live_1234_abcdef&bandwidthtest=true', 'a.flvx', 'key.mp4.part', 'k:e@y~!$&\'()*+,;=%-_']) {
      expect(checkStreamKey(key)).toBeUndefined();
      expect(publishUrl(ingest, key)).toBe(`${ingest}${key}`);
    }
  });

  test('an ingest path of more than two segments is refused (FFmpeg would move a segment into the stream name)', () => {
    expect(publishUrl('rtmp://127.0.0.1:19350/app/instance/')).toBe('rtmp://127.0.0.1:19350/app/instance/sk_abc');
    expect(publishUrl('rtmp://127.0.0.1:19350')).toBe('rtmp://127.0.0.1:19350/sk_abc');
    for (const bad of ['rtmp://127.0.0.1:19350/a/b/c/', 'rtmp://127.0.0.1:19350/a//', 'rtmp://127.0.0.1:19350//a/']) {
      expect(checkDestination(bad, 'sk_abc', allow)).toMatchObject({ ok: false, code: 'DESTINATION_FORBIDDEN' });
    }
  });

  test('an ingest off the allow-list is refused before the key is looked at', () => {
    expect(checkDestination('rtmp://evil.example.org/live/', 'bad/key', allow)).toMatchObject({ ok: false, code: 'DESTINATION_FORBIDDEN' });
  });
});
