// What the relay asks of browsers and pages (HSTS, an origin allow-list) and of the media it
// decodes (a frame-size bound), against real relays and real FFmpeg.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { makeClip, type ClipRecipe } from '../../harness/clips.ts';
import { streamFile } from '../../harness/media.ts';
import { startRelayFixture, type RelayFixture } from '../../harness/relay-fixture.ts';
import { startRelay, type RelayProcess } from '../../harness/relay-process.ts';
import { ConfigError, loadConfig } from '../src/config.ts';

const SECRET = 'transport-test-secret-0123456789abcdef';
const STUDIO = 'https://studio.example.com';

/** The status of a WebSocket upgrade request to `url` sent with `origin` (101 when it upgraded). */
async function upgradeStatus(httpUrl: string, origin?: string, path = '/v1/stream'): Promise<number> {
  const res = await fetch(`${httpUrl}${path}`, {
    headers: {
      'connection': 'Upgrade',
      'upgrade': 'websocket',
      'sec-websocket-version': '13',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      ...(origin ? { origin } : {}),
    },
    tls: { rejectUnauthorized: false },
  } as RequestInit).catch(() => undefined);
  await res?.body?.cancel();
  return res?.status ?? 0;
}

describe('HSTS', () => {
  test('sent over TLS, not over plain HTTP on loopback', async () => {
    const [tlsRelay, plain] = await Promise.all([
      startRelay({ RELAY_TLS: 'self-signed', RELAY_AUTH_SECRET: SECRET }),
      startRelay({ RELAY_AUTH_SECRET: SECRET }),
    ]);
    try {
      const secure = await fetch(`${tlsRelay.httpUrl}/healthz`, { tls: { rejectUnauthorized: false } } as RequestInit);
      expect(secure.headers.get('strict-transport-security')).toBe('max-age=31536000');
      const page = await fetch(`${tlsRelay.httpUrl}/`, { tls: { rejectUnauthorized: false } } as RequestInit);
      expect(page.headers.get('strict-transport-security')).toBe('max-age=31536000');
      expect((await fetch(`${plain.httpUrl}/healthz`)).headers.get('strict-transport-security')).toBeNull();
    } finally {
      await Promise.all([tlsRelay.stop(), plain.stop()]);
    }
  });
});

describe('allowed origins', () => {
  let relay: RelayProcess;
  beforeAll(async () => {
    relay = await startRelay({ RELAY_AUTH_SECRET: SECRET, RELAY_ALLOWED_ORIGINS: `${STUDIO}, http://localhost:5173` });
  });
  afterAll(async () => {
    await relay?.stop();
  });

  test('a page of another site cannot open a session; listed ones, the relay\'s own page and non-browser clients can', async () => {
    expect(await upgradeStatus(relay.httpUrl, 'https://evil.example.net')).toBe(403);
    expect(await upgradeStatus(relay.httpUrl, STUDIO)).toBe(101);
    expect(await upgradeStatus(relay.httpUrl, 'http://localhost:5173')).toBe(101);
    expect(await upgradeStatus(relay.httpUrl, relay.httpUrl)).toBe(101);
    expect(await upgradeStatus(relay.httpUrl)).toBe(101);
  });

  // docs/protocol.md#http-routes: only a route that exists refuses a foreign page.
  test('the compatibility route, when on, refuses the same pages; when off it is not there (404) for any page', async () => {
    const compatPath = `/rtmps/${encodeURIComponent('rtmp://127.0.0.1:1935/live/sk_origin_1a2b')}`;
    expect(await upgradeStatus(relay.httpUrl, 'https://evil.example.net', compatPath)).toBe(404);
    expect(await upgradeStatus(relay.httpUrl, STUDIO, compatPath)).toBe(404);
    const compat = await startRelay({ RELAY_AUTH_SECRET: SECRET, RELAY_ALLOWED_ORIGINS: STUDIO, RELAY_COMPAT_ROUTE: 'on' });
    try {
      expect(await upgradeStatus(compat.httpUrl, 'https://evil.example.net', compatPath)).toBe(403);
      // Refused before the URL is read: a foreign page learns nothing of what a bad URL would get.
      expect(await upgradeStatus(compat.httpUrl, 'https://evil.example.net', '/rtmps/no-slash')).toBe(403);
      expect(await upgradeStatus(compat.httpUrl, STUDIO, compatPath)).toBe(101);
      expect(await upgradeStatus(compat.httpUrl, undefined, compatPath)).toBe(101);
    } finally {
      await compat.stop();
    }
  });

  test('without the variable every origin may (a token still decides)', async () => {
    const open = await startRelay({ RELAY_AUTH_SECRET: SECRET });
    try {
      expect(await upgradeStatus(open.httpUrl, 'https://evil.example.net')).toBe(101);
    } finally {
      await open.stop();
    }
  });

  test('an entry that is not an origin stops the relay at start, naming the variable', () => {
    let problems: string[] = [];
    try {
      loadConfig({ RELAY_AUTH_SECRET: SECRET, RELAY_ALLOWED_ORIGINS: 'https://studio.example.com/app' });
    } catch (e) {
      problems = (e as ConfigError).problems;
    }
    expect(problems).toEqual(['RELAY_ALLOWED_ORIGINS: "https://studio.example.com/app" is not an origin (http(s)://host[:port], no path)']);
    expect(loadConfig({ RELAY_AUTH_SECRET: SECRET, RELAY_ALLOWED_ORIGINS: 'HTTPS://Studio.Example.com:443' }).allowedOrigins).toEqual([STUDIO]);
  });
});

describe('decoder bounds', () => {
  /** 1440p VP8: frames over the 1080p bound the relay sets on a transcode's input. */
  const OVERSIZED: ClipRecipe = {
    name: 'vp8-opus-1440p',
    ext: 'webm',
    video: 'testsrc=size=2560x1440:rate=30',
    audio: 'sine',
    encode: ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '2M', '-c:a', 'libopus', '-f', 'webm'],
  };
  let fixture: RelayFixture;
  let relay: RelayProcess;
  beforeAll(async () => {
    fixture = await startRelayFixture();
    relay = fixture.relay;
  });
  afterAll(async () => {
    await fixture?.stop();
  });

  test('a VP8 stream declaring frames over 1080p ends its own session with 4415, before the decoder allocates them', async () => {
    const file = await makeClip(OVERSIZED, 2);
    const result = await streamFile(relay.wsUrl, fixture.startMessage('sk_oversized_frames_1a2b', { mimeType: 'video/webm;codecs=vp8,opus' }), file, { seconds: 2 });
    expect(result.messages[0]).toMatchObject({ type: 'ready', pipeline: 'transcode' });
    expect(result.messages.at(-1)).toMatchObject({ type: 'error', code: 'UNSUPPORTED_MEDIA' });
    expect(result.closeCode).toBe(4415);
    // The decoder refused the frames instead of allocating them (without the bound, this 1440p
    // stream would be scaled to 720p and go live).
    expect(relay.logs.find((l) => l.msg === 'ffmpeg exited')).toMatchObject({ failure: 'input', exitCode: 1 });
    expect(result.gotLive).toBe(false);
  });
});
