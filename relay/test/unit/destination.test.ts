import { describe, expect, test } from 'bun:test';
import { checkDestination, parseAllowList } from '../../src/destination.ts';

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
});
