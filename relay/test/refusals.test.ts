import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { makeTestMedia } from '../../harness/clips.ts';
import { streamFile } from '../../harness/media.ts';
import { waitFor } from '../../harness/ports.ts';
import { probeRecording } from '../../harness/probe.ts';
import { startRelayFixture, type RelayFixture } from '../../harness/relay-fixture.ts';
import type { RelayLogLine, RelayProcess } from '../../harness/relay-process.ts';
import type { RtmpServer } from '../../harness/rtmp-server.ts';
import { makeToken } from '../../harness/token.ts';
import { exchange, openRelaySocket, until, type Exchange } from '../../harness/ws-client.ts';
import { isPublic } from '../src/ingest-address.ts';

// Every refusal of the relay protocol (docs/protocol.md#close-codes): the `error` frame comes right before the close, with the
// matching code, and no FFmpeg is ever spawned for it. The relay is shared, its output is not: each test looks only at
// what the relay printed after the test began (see `mark`).

const KEY = 'sk_refusal_never_logged_5b4a';
let fixture: RelayFixture;
let rtmp: RtmpServer;
let relay: RelayProcess;
let ingest: string;
let token: string;
let secret: string;
/** How much the relay had printed once it was up: what came before any test. */
let startupOutput: number;

beforeAll(async () => {
  fixture = await startRelayFixture({
    env: (sink) => ({
      // This machine's own name, exactly: allowed, but it resolves to the machine itself.
      RELAY_ALLOWED_INGESTS: `rtmp://127.0.0.1:${sink.port},rtmp://${hostname()}:${sink.port}`,
      RELAY_MAX_MESSAGE_BYTES: '65536',
      RELAY_MEDIA_TIMEOUT_MS: '1500',
      RELAY_START_TIMEOUT_MS: '1500',
    }),
  });
  ({ rtmp, relay, token, secret } = fixture);
  ingest = rtmp.rtmpUrl;
  startupOutput = relay.output().length;
});

afterAll(async () => {
  await fixture?.stop();
});

/** A start message with `over` on top; a field set to undefined is left out. */
const start = (over: Record<string, unknown> = {}) =>
  JSON.stringify({ ...fixture.startMessage(KEY), ...over });

/** A place in the relay's output; what the relay prints from there on is one test's own evidence. */
interface Mark {
  /** Characters of output before it. */
  readonly chars: number;
  /** Parsed lines before it. */
  readonly lines: number;
}

function mark(): Mark {
  return { chars: relay.output().length, lines: relay.logs.length };
}

/** The output since `m`. */
function outputSince(m: Mark): string {
  return relay.output().slice(m.chars);
}

/** The parsed lines since `m`. */
function linesSince(m: Mark): RelayLogLine[] {
  return relay.logs.slice(m.lines);
}

/** Neither the stream key, the auth secret, the valid token nor any of `others` is in the output since `m`. */
function expectNoSecretsSince(m: Mark, others: string[] = []): void {
  const out = outputSince(m);
  for (const s of [KEY, secret, token, ...others]) expect(out).not.toContain(s);
}

/**
 * Runs an exchange that must be refused before FFmpeg: checks the error frame, the close code, that
 * no FFmpeg was spawned and no session became ready, and that no secret (`secrets` too) was printed.
 */
async function expectRefused(frames: Parameters<typeof exchange>[1], code: string, closeCode: number, secrets: string[] = []): Promise<Exchange> {
  const since = mark();
  // FFmpeg processes of earlier tests may still be finishing: only new ones count.
  const earlier = new Set(relay.ffmpegChildren());
  let sawFfmpeg = false;
  const sampler = setInterval(() => {
    if (relay.ffmpegChildren().some((pid) => !earlier.has(pid))) sawFfmpeg = true;
  }, 5);
  let r: Exchange;
  try {
    r = await exchange(relay.wsUrl, frames);
  } finally {
    clearInterval(sampler);
  }
  expect(r.closeCode).toBe(closeCode);
  expect(r.messages.at(-1)).toMatchObject({ type: 'error', code });
  expect(typeof r.messages.at(-1).message).toBe('string');
  expect(r.messages.some((m) => m.type === 'ready')).toBe(false);
  expect(sawFfmpeg).toBe(false);
  // The output and the socket are separate channels: the session's last line may arrive after the close.
  await waitFor(() => linesSince(since).some((l) => l.msg === 'session failed' && l.code === code), 5000, `the "${code}" failure line`);
  expect(linesSince(since).filter((l) => l.msg === 'session ready')).toEqual([]);
  expectNoSecretsSince(since, secrets);
  return r;
}

describe('bad requests → 4000', () => {
  test('first frame not JSON', async () => {
    await expectRefused(['{not json'], 'BAD_REQUEST', 4000);
  });
  test('start without mimeType', async () => {
    await expectRefused([JSON.stringify({ type: 'start', token, ingest, streamKey: KEY })], 'BAD_REQUEST', 4000);
  });
  test('stop as the first frame', async () => {
    await expectRefused([JSON.stringify({ type: 'stop' })], 'BAD_REQUEST', 4000);
  });
  test('binary before start', async () => {
    await expectRefused([new Uint8Array([0x1a, 0x45, 0xdf, 0xa3])], 'BAD_REQUEST', 4000);
  });
  // A bad stream key is a bad start message (docs/configuration.md#ingest-urls-and-stream-keys: the stream name the ingest sees is
  // exactly the key): `/` would move FFmpeg's app/stream-name split, a `?` starts a query, and
  // FFmpeg rewrites names ending in .flv/.mp4/.f4v. The message never quotes the key.
  for (const [name, key] of [
    ['a stream key with whitespace', 'sk_secret_ws -f file:/tmp/x'],
    ['a stream key with a slash', 'sk_secret_a/b'],
    ['a stream key ending in .flv', 'sk_secret_rec.flv'],
    ['a stream key ending in .mp4', 'sk_secret_rec.mp4'],
    // FFmpeg would publish to the app `live/sk_secret_live` and the stream `other`.
    ['a stream key with a query', 'sk_secret_live?slist=other'],
  ] as const) {
    test(name, async () => {
      const r = await expectRefused([start({ streamKey: key })], 'BAD_REQUEST', 4000, [key]);
      expect(r.messages.at(-1).message).toContain('streamKey');
      expect(r.messages.at(-1).message).not.toContain('sk_secret');
    });
  }
  // "binary before ready" is in auth-jwks.test.ts, where a slow key set makes the race deterministic.
  test('no start message in time', async () => {
    await expectRefused([], 'BAD_REQUEST', 4000);
  });
});

describe('tokens → 4001', () => {
  test('missing', async () => {
    await expectRefused([start({ token: undefined })], 'UNAUTHORIZED', 4001);
  });
  test('wrong signature', async () => {
    const bad = await makeToken('another-secret-entirely');
    await expectRefused([start({ token: bad })], 'UNAUTHORIZED', 4001, [bad]);
  });
  test('expired', async () => {
    const expired = await fixture.makeToken({ exp: Math.floor(Date.now() / 1000) - 60 });
    const r = await expectRefused([start({ token: expired })], 'UNAUTHORIZED', 4001, [expired]);
    expect(r.messages.at(-1).message).toContain('expired');
  });
  // A token is a bearer credential: the relay bounds how long one may live (RELAY_MAX_TOKEN_LIFETIME_MS, 24 h).
  test('expiring more than 24 h from now', async () => {
    const longLived = await fixture.makeToken({ expiresIn: '25h' });
    const r = await expectRefused([start({ token: longLived })], 'UNAUTHORIZED', 4001, [longLived]);
    expect(r.messages.at(-1).message).toBe('token lifetime exceeds the relay\'s maximum of 86400000 ms');
  });
  test('issued more than 24 h before it expires, though it expires within 24 h', async () => {
    const now = Math.floor(Date.now() / 1000);
    const longLived = await fixture.makeToken({ iat: now - 3 * 3600, exp: now + 22 * 3600 });
    const r = await expectRefused([start({ token: longLived })], 'UNAUTHORIZED', 4001, [longLived]);
    expect(r.messages.at(-1).message).toContain('lifetime');
  });
  test('without exp', async () => {
    const noExp = await fixture.makeToken({ noExp: true });
    await expectRefused([start({ token: noExp })], 'UNAUTHORIZED', 4001, [noExp]);
  });
  test('another algorithm with the same secret', async () => {
    const hs512 = await fixture.makeToken({ alg: 'HS512' });
    await expectRefused([start({ token: hs512 })], 'UNAUTHORIZED', 4001, [hs512]);
  });
  test('garbage', async () => {
    await expectRefused([start({ token: 'not.a.jwt' })], 'UNAUTHORIZED', 4001);
  });
  test('an unauthenticated client cannot choose what is redacted from the logs', async () => {
    // A client without a valid token registers nothing for redaction, and its failure line keeps
    // the fixed reason that happens to equal its "token" (docs/telemetry.md#redaction).
    const since = mark();
    await expectRefused([start({ token: 'token is invalid' })], 'UNAUTHORIZED', 4001);
    const failed = linesSince(since).filter((l) => l.msg === 'session failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ code: 'UNAUTHORIZED', reason: 'token is invalid' });
  });
});

describe('destinations → 4003', () => {
  const cases: [string, () => string][] = [
    ['host not on the allow-list', () => 'rtmp://ingest.evil.example/live/'],
    ['file:', () => 'file:///tmp/relay-pwned.flv'],
    ['http:', () => ingest.replace('rtmp:', 'http:')],
    ['wrong port', () => 'rtmp://127.0.0.1:1/live/'],
    ['rtmps to an rtmp-only entry', () => ingest.replace('rtmp:', 'rtmps:')],
    ['credentials in the URL', () => ingest.replace('rtmp://', 'rtmp://user:pw@')],
    ['a query string', () => `${ingest}?x=1`],
  ];
  for (const [name, url] of cases) {
    test(name, async () => {
      await expectRefused([start({ ingest: url() })], 'DESTINATION_FORBIDDEN', 4003);
    });
  }
  test('an allowed name that resolves to a non-public address (here the machine\'s own name), before any FFmpeg', async () => {
    const addresses = (await Bun.dns.lookup(hostname())).map((a) => a.address);
    // What this test stands on: the machine's name resolves, and only to the machine itself.
    expect(addresses.length).toBeGreaterThan(0);
    expect(addresses.filter(isPublic)).toEqual([]);
    const before = relay.ffmpegChildren().length;
    const r = await expectRefused([start({ ingest: `rtmp://${hostname()}:${rtmp.port}/live/` })], 'DESTINATION_FORBIDDEN', 4003);
    expect(r.messages.at(-1).message).toBe(`ingest ${hostname().toLowerCase()} resolves to a non-public address`);
    expect(relay.ffmpegChildren().length).toBe(before);
  });
  test('an ingest path FFmpeg would split into app and stream name differently', async () => {
    await expectRefused([start({ ingest: `${ingest}a/b/` })], 'DESTINATION_FORBIDDEN', 4003);
  });
  test('the scheme is case-insensitive: RTMP:// is the same ingest', async () => {
    const since = mark();
    const streamKey = 'sk_upper_scheme_1a2b';
    const r = await exchange(relay.wsUrl, [start({ ingest: ingest.replace('rtmp:', 'RTMP:'), streamKey })]);
    expect(r.messages[0]).toMatchObject({ type: 'ready' });
    expect(r.closeCode).toBe(4408);
    await waitIdle();
    expectNoSecretsSince(since, [streamKey]);
  });
});

// docs/protocol.md#start-message: the checks run in a fixed order and the first that fails decides. Each start message
// here fails two adjacent checks and must get the earlier one's code (and reason): swap any two checks in the relay
// and one of these fails.
describe('order of checks', () => {
  const boundToOther = () => fixture.makeToken({ claims: { ingest: 'rtmp://127.0.0.1:1/elsewhere/' } });
  const tooMany = () => [1, 2, 3].map((i) => ({ ingest, streamKey: `sk_order_extra_${i}` }));
  const nonPublic = () => `rtmp://${hostname()}:${rtmp.port}/live/`;
  const cases: [string, () => Promise<Record<string, unknown>>, string, number, string][] = [
    ['the frame\'s shape (1) before the token (2)',
      async () => ({ token: 'not.a.jwt', mimeType: undefined }), 'BAD_REQUEST', 4000, 'mimeType'],
    ['the token (2) before RELAY_MAX_DESTINATIONS (3)',
      async () => ({ token: 'not.a.jwt', destinations: tooMany() }), 'UNAUTHORIZED', 4001, 'token'],
    ['RELAY_MAX_DESTINATIONS (3) before the allow-list (4)',
      async () => ({ ingest: 'rtmp://ingest.evil.example/live/', destinations: tooMany() }), 'BAD_REQUEST', 4000, 'too many destinations'],
    ['the allow-list (4) before the stream key (5)',
      async () => ({ ingest: 'rtmp://ingest.evil.example/live/', streamKey: 'sk bad' }), 'DESTINATION_FORBIDDEN', 4003, 'allow-list'],
    ['the stream key (5) before the address lookup (6)',
      async () => ({ ingest: nonPublic(), streamKey: 'sk bad' }), 'BAD_REQUEST', 4000, 'streamKey'],
    ['the address lookup (6) before the token\'s binding (7)',
      async () => ({ ingest: nonPublic(), token: await boundToOther() }), 'DESTINATION_FORBIDDEN', 4003, 'non-public'],
    ['the token\'s binding (7) before the mimeType (9)',
      async () => ({ token: await boundToOther(), mimeType: 'text/html' }), 'UNAUTHORIZED', 4001, 'bound to another ingest'],
    ['a destination twice (8) before the mimeType (9)',
      async () => ({ destinations: [{ ingest, streamKey: KEY }], mimeType: 'text/html' }), 'BAD_REQUEST', 4000, 'twice'],
    ['the first destination\'s checks before the next one\'s',
      async () => ({ ingest: 'rtmp://ingest.evil.example/live/', destinations: [{ ingest, streamKey: 'sk bad' }] }), 'DESTINATION_FORBIDDEN', 4003, 'allow-list'],
  ];
  for (const [name, failing, code, closeCode, reason] of cases) {
    test(name, async () => {
      const over = await failing();
      const r = await expectRefused([start(over)], code, closeCode, typeof over.token === 'string' ? [over.token] : []);
      expect(r.messages.at(-1).message).toContain(reason);
    });
  }
});

describe('log integrity', () => {
  test('stream keys equal to a metric or field name do not rewrite metric lines or field names', async () => {
    const since = mark();
    const [a, b] = await Promise.all(['ActiveSessions', 'session'].map((streamKey) => exchange(relay.wsUrl, [start({ streamKey })])));
    for (const r of [a!, b!]) {
      expect(r.messages[0]).toMatchObject({ type: 'ready' });
      expect(r.closeCode).toBe(4408);
    }
    await waitIdle();
    // Each session's slot went back (and its gauge line was written) just before its `ffmpeg exited` line.
    await waitFor(() => linesSince(since).filter((l) => l.msg === 'ffmpeg exited').length === 2, 5000, 'both ffmpeg exit lines');
    const lines: any[] = linesSince(since);
    expect(lines.some((l) => l.raw !== undefined)).toBe(false);
    for (const l of lines) expect(Object.keys(l).filter((k) => k.includes('redacted'))).toEqual([]);
    const gauges = lines.filter((l) => l._aws?.CloudWatchMetrics?.[0]?.Metrics?.[0]?.Name === 'ActiveSessions');
    // One gauge line as each session took its slot and one as it gave it back, at least.
    expect(gauges.length).toBeGreaterThanOrEqual(4);
    for (const g of gauges) {
      expect(typeof g.ActiveSessions).toBe('number');
      expect(g._aws.CloudWatchMetrics[0].Namespace).toBe('TranswrapRelay');
      expect(g._aws.CloudWatchMetrics[0].Dimensions).toEqual([['Service']]);
      expect(g.Service).toBe('transwrap-relay');
    }
    const opened = lines.filter((x) => x.msg === 'connection opened');
    expect(opened).toHaveLength(2);
    for (const l of opened) expect(typeof l.session).toBe('string');
    expectNoSecretsSince(since);
  });
});

describe('redaction is the owning session\'s', () => {
  test('keys equal to the loopback address and to a code blank nothing of another session\'s lines, nor their own structure', async () => {
    const since = mark();
    // Two token holders pick as stream keys what the relay logs about everyone: an address and a code.
    const holders = await Promise.all(['127.0.0.1', 'UNAUTHORIZED'].map(async (streamKey) => {
      const messages: any[] = [];
      const socket = await openRelaySocket(relay.wsUrl, (m) => messages.push(m));
      socket.ws.send(start({ streamKey }));
      await until(messages, 'ready');
      return { socket, messages, session: messages[0].session as string };
    }));
    // While their keys are registered (until their FFmpeg is reaped, after 4408), another client is refused.
    const other = await exchange(relay.wsUrl, [start({ token: undefined })]);
    expect(other.closeCode).toBe(4001);
    for (const h of holders) expect((await h.socket.closedWithin(10_000, () => JSON.stringify(h.messages))).closeCode).toBe(4408);
    await waitIdle();
    await waitFor(() => linesSince(since).filter((l) => l.msg === 'ffmpeg exited').length === 2, 5000, 'both ffmpeg exit lines');

    const lines = linesSince(since);
    const held = new Set(holders.map((h) => h.session));
    const opened = lines.filter((l) => l.msg === 'connection opened');
    expect(opened).toHaveLength(3);
    for (const l of opened) expect(l.remote).toBe('127.0.0.1');
    const otherSession = opened.find((l) => !held.has(l.session!))!.session;
    expect(lines.filter((l) => l.session === otherSession && l.msg === 'session failed')).toEqual([
      expect.objectContaining({ level: 'warn', code: 'UNAUTHORIZED', closeCode: 4001, reason: 'missing token', started: false }),
    ]);
    // The holders' own structural fields stay too.
    for (const h of holders) {
      expect(lines.find((l) => l.session === h.session && l.msg === 'session ready')).toMatchObject({ ingest: `rtmp://127.0.0.1:${rtmp.port}` });
      expect(lines.find((l) => l.session === h.session && l.msg === 'session failed')).toMatchObject({ code: 'MEDIA_TIMEOUT', closeCode: 4408 });
    }
    expect(outputSince(since)).not.toContain('[redacted]');
    expectNoSecretsSince(since);
  });
});

describe('media types → 4415', () => {
  for (const mimeType of ['audio/webm;codecs=opus', 'video/ogg;codecs=theora', 'video/webm;codecs=theora,opus', 'text/html']) {
    test(mimeType, async () => {
      await expectRefused([start({ mimeType })], 'UNSUPPORTED_MEDIA', 4415);
    });
  }
});

describe('limits', () => {
  test('a text frame over the maximum → 1009 before anything else', async () => {
    await expectRefused([start({ pad: 'x'.repeat(70_000) })], 'MESSAGE_TOO_BIG', 1009);
  });

  test('a media frame over the maximum → 1009, and FFmpeg is reaped', async () => {
    const since = mark();
    const r = await exchange(relay.wsUrl, [start(), async (m) => (await until(m, 'ready'), new Uint8Array(100_000))]);
    expect(r.closeCode).toBe(1009);
    expect(r.messages.at(-1)).toMatchObject({ type: 'error', code: 'MESSAGE_TOO_BIG' });
    await waitIdle();
    expectNoSecretsSince(since);
  });

  test('no media after ready → 4408, and FFmpeg is reaped', async () => {
    const since = mark();
    const t0 = Date.now();
    const r = await exchange(relay.wsUrl, [start()]);
    expect(r.messages[0].type).toBe('ready');
    expect(r.closeCode).toBe(4408);
    expect(r.messages.at(-1)).toMatchObject({ type: 'error', code: 'MEDIA_TIMEOUT' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
    await waitIdle();
    expectNoSecretsSince(since);
  });
});

describe('capacity → 4013', () => {
  let small: RelayProcess;
  beforeAll(async () => {
    small = await fixture.startRelay({
      RELAY_MAX_SESSIONS: '1',
      RELAY_MAX_TRANSCODES: '0',
    });
  });
  afterAll(async () => {
    await small?.stop();
    expect(small.output()).not.toContain(KEY);
  });

  test('sessions beyond RELAY_MAX_SESSIONS and transcodes beyond RELAY_MAX_TRANSCODES are refused while the live one keeps streaming', async () => {
    const file = await makeTestMedia('h264-opus-mkv', 6);
    const key = 'sk_capacity_live_one_77aa';
    let refusedFull: Exchange | undefined;
    let refusedTranscode: Exchange | undefined;
    const live = await streamFile(small.wsUrl, fixture.startMessage(key), file, {
      seconds: 6,
      onMessage: (msg) => {
        if (msg.type !== 'live') return;
        void (async () => {
          const health = await (await fetch(`${small.httpUrl}/healthz`)).json();
          expect(health).toEqual({ status: 'ok', sessions: 1 });
          refusedFull = await exchange(small.wsUrl, [start({ streamKey: 'sk_second' })]);
        })();
      },
    });
    expect(refusedFull?.closeCode).toBe(4013);
    expect(refusedFull?.messages.at(-1)).toMatchObject({ type: 'error', code: 'UNAVAILABLE' });
    // The live session was never disturbed.
    expect(live.closeCode).toBe(1000);
    expect(live.messages.at(-1)).toEqual({ type: 'ended' });
    const probe = await probeRecording(await rtmp.waitForRecording(key));
    expect(probe.videoCodec).toBe('h264');
    expect(Math.abs(probe.durationS - 6)).toBeLessThanOrEqual(0.6);
    // With the copy session gone, a transcode is still refused: RELAY_MAX_TRANSCODES is 0.
    refusedTranscode = await exchange(small.wsUrl, [start({ streamKey: 'sk_third', mimeType: 'video/webm;codecs=vp8,opus' })]);
    expect(refusedTranscode.closeCode).toBe(4013);
    expect(refusedTranscode.messages.at(-1)).toMatchObject({ type: 'error', code: 'UNAVAILABLE' });
    expect(small.ffmpegChildren()).toEqual([]);
  });
});

describe('HTTP', () => {
  test('healthz and the upgrade-only stream route', async () => {
    // Sessions of earlier tests give their slots back once their FFmpeg is reaped.
    await waitIdle();
    const health = await fetch(`${relay.httpUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', sessions: 0 });
    expect((await fetch(`${relay.httpUrl}/v1/stream`)).status).toBe(426);
    expect((await fetch(`${relay.httpUrl}/rtmps/x`)).status).toBe(404);
  });
});

test('the relay\'s start-up output names no secret', () => {
  const out = relay.output().slice(0, startupOutput);
  expect(out).toContain('"msg":"relay listening"');
  expect(out).not.toContain(secret);
});

/** Waits until every FFmpeg of the shared relay is reaped and every slot is back. */
function waitIdle(): Promise<void> {
  return fixture.waitIdle();
}

describe('FFmpeg missing', () => {
  test('a relay whose RELAY_FFMPEG_PATH does not exist answers 1011 INTERNAL, gives the slot back and stays up', async () => {
    const broken = await fixture.startRelay({
      RELAY_FFMPEG_PATH: '/nonexistent/ffmpeg',
      // One slot: a second session gets 1011 too, not 4013, only if the first gave its slot back.
      RELAY_MAX_SESSIONS: '1',
    });
    try {
      for (let i = 0; i < 2; i++) {
        const r = await exchange(broken.wsUrl, [start()]);
        expect(r.closeCode).toBe(1011);
        expect(r.messages.at(-1)).toMatchObject({ type: 'error', code: 'INTERNAL', message: 'could not start the encoder' });
        expect(await (await fetch(`${broken.httpUrl}/healthz`)).json()).toEqual({ status: 'ok', sessions: 0 });
      }
    } finally {
      await broken.stop();
    }
    expect(broken.output()).not.toContain(KEY);
  });
});
