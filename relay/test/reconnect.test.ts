import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { makeTestMedia } from '../../harness/clips.ts';
import { waitFor } from '../../harness/ports.ts';
import { probeRecording } from '../../harness/probe.ts';
import { startReconnectingStream, type ReconnectingStream } from '../../harness/reconnecting-client.ts';
import { startRelayFixture, type RelayFixture } from '../../harness/relay-fixture.ts';
import type { RelayProcess } from '../../harness/relay-process.ts';
import { startRtmpServer, type RtmpServer } from '../../harness/rtmp-server.ts';
import { openRelaySocket, until } from '../../harness/ws-client.ts';

// Ingest reconnects (docs/protocol.md#reconnecting) against real failures: nginx-rtmp restarted
// mid-stream, the session's FFmpeg killed with SIGKILL, an ingest that refuses connections for
// longer than the window. The client is the harness's file streamer with `reconnect: true`,
// which starts the file over (a new recording) on each later `ready`.

const CLIP_SECONDS = 30;
let fixture: RelayFixture;
let rtmp: RtmpServer;
let relay: RelayProcess;
let clip: string;

beforeAll(async () => {
  // A short media timeout: once live again, the new FFmpeg's progress (its output time starting over
  // at 0) must count as media moving, or the session would end with 4408 within the 5 s that follow.
  [fixture, clip] = await Promise.all([
    startRelayFixture({ env: () => ({ RELAY_RECONNECT_WINDOW_MS: '20000', RELAY_MEDIA_TIMEOUT_MS: '3000' }) }),
    makeTestMedia('h264-opus-mkv', CLIP_SECONDS),
  ]);
  ({ rtmp, relay } = fixture);
});

afterAll(async () => {
  await fixture?.stop();
});

function stream(streamKey: string, ingest = rtmp.rtmpUrl, target = relay): Promise<ReconnectingStream> {
  return startReconnectingStream(target.wsUrl, fixture.startMessage(streamKey, { ingest }), clip, CLIP_SECONDS);
}

/** Time from the first `reconnecting` to the `live` after it: how long viewers saw nothing new. */
function gapMs(s: ReconnectingStream): number {
  const from = s.messages.findIndex((m) => m.type === 'reconnecting');
  const to = s.messages.findIndex((m, i) => i > from && m.type === 'live');
  return s.arrivals[to]! - s.arrivals[from]!;
}

/** Streams on for a while after the reconnect, stops, and checks what the sink recorded after it. */
async function expectSecondRecording(s: ReconnectingStream, streamKey: string): Promise<void> {
  await Bun.sleep(5000);
  s.stop();
  expect(await s.closed).toBe(1000);
  expect(s.messages.at(-1)).toEqual({ type: 'ended' });
  // nginx-rtmp records each publish of a key to the same file: what it holds now is the recording after the reconnect.
  const probe = await probeRecording(await rtmp.waitForRecording(streamKey));
  expect(probe.videoCodec).toBe('h264');
  expect(probe.audioCodec).toBe('aac');
  expect(probe.startsWithKeyframe).toBe(true);
  expect(probe.timestampsMonotonic).toBe(true);
  expect(probe.durationS).toBeGreaterThan(3.5);
  const stats = s.messages.filter((m) => m.type === 'stats').at(-1);
  expect(stats.reconnects).toBe(1);
  expect(stats.downMs).toBeGreaterThan(0);
}

describe('the session stays open through', () => {
  test('nginx-rtmp restarting mid-stream: reconnecting, ready, live, and a second recording that plays', async () => {
    const key = 'sk_reconnect_restart_1a2b';
    const s = await stream(key);
    await s.until('live');
    await Bun.sleep(3000);
    await rtmp.restart();
    await s.until('live', 2);
    const reconnecting = s.messages.find((m) => m.type === 'reconnecting');
    expect(reconnecting).toMatchObject({ attempt: 1, code: 'INGEST_FAILED', message: 'ingest refused or dropped the connection' });
    expect(reconnecting.retryInMs).toBeGreaterThan(0);
    expect(s.messages.map((m) => m.type).filter((t) => t !== 'stats')).toEqual(['ready', 'live', 'reconnecting', 'ready', 'live']);
    console.log(`reconnect after an nginx restart: ${Math.round(gapMs(s))} ms from reconnecting to live`);
    await expectSecondRecording(s, key);
    expect(relay.output()).toContain('"msg":"live again"');
  });

  test('the session\'s FFmpeg killed with SIGKILL: reconnecting (encoder crashed), then live again', async () => {
    const key = 'sk_reconnect_kill_3c4d';
    const s = await stream(key);
    await s.until('live');
    const session = s.messages.find((m) => m.type === 'ready').session;
    await waitFor(() => relay.ffmpegPidOf(session) !== undefined, 15_000, 'the session ready line');
    // Longer than the media timeout: the new FFmpeg's output time restarts far below the old one's.
    await Bun.sleep(6000);
    process.kill(relay.ffmpegPidOf(session)!, 'SIGKILL');
    await s.until('live', 2);
    expect(s.messages.find((m) => m.type === 'reconnecting')).toMatchObject({ attempt: 1, code: 'INTERNAL', message: 'encoder crashed' });
    console.log(`reconnect after SIGKILL: ${Math.round(gapMs(s))} ms from reconnecting to live`);
    await expectSecondRecording(s, key);
  });
});

describe('the window', () => {
  test('an ingest refusing connections for longer than RELAY_RECONNECT_WINDOW_MS: tries again and again, then 4502', async () => {
    const refusing = await startRtmpServer();
    // Long enough for three tries (backoff 0.5 s, 1 s, 2 s) when each try's FFmpeg takes a second
    // or more to start and be refused, as on a busy machine (at 4 s there was room for two).
    const windowMs = 8000;
    const short = await fixture.startRelay({ RELAY_ALLOWED_INGESTS: `rtmp://127.0.0.1:${refusing.port}`, RELAY_RECONNECT_WINDOW_MS: String(windowMs) });
    try {
      const s = await stream('sk_reconnect_refused_5e6f', refusing.rtmpUrl, short);
      await s.until('live');
      // Stopped, nginx's port refuses every connection.
      await refusing.stop();
      await s.until('reconnecting');
      const downAt = s.arrivals[s.messages.findIndex((m) => m.type === 'reconnecting')]!;
      expect(await s.closed).toBe(4502);
      const elapsed = performance.now() - downAt;
      expect(s.messages.at(-1)).toEqual({ type: 'error', code: 'INGEST_FAILED', message: 'ingest refused or dropped the connection' });
      const tries = s.messages.filter((m) => m.type === 'reconnecting');
      expect(tries.map((m) => m.attempt)).toEqual(tries.map((_, i) => i + 1));
      expect(tries.length).toBeGreaterThanOrEqual(3);
      expect(elapsed).toBeGreaterThanOrEqual(windowMs - 100);
      expect(elapsed).toBeLessThan(windowMs + 3000);
      // Nothing is held for the ingest while it is down: between a `reconnecting` and the next
      // try's `ready`, media is dropped, not queued. (A try's own FFmpeg may hold the new
      // recording's first bytes while it starts and is refused: that is a try, not the wait.)
      let waiting = false;
      for (const m of s.messages) {
        if (m.type === 'reconnecting') waiting = true;
        else if (m.type === 'ready') waiting = false;
        else if (m.type === 'stats' && waiting) expect(m.bufferedBytes).toBe(0);
      }
      await fixture.waitIdle(undefined, short);
    } finally {
      await short.stop();
    }
  });

  test('a try still connecting when the window runs out: the session ends with the failure before it, not a live timeout', async () => {
    const vanishing = await startRtmpServer();
    const port = vanishing.port;
    const windowMs = 3000;
    const short = await fixture.startRelay({ RELAY_ALLOWED_INGESTS: `rtmp://127.0.0.1:${port}`, RELAY_RECONNECT_WINDOW_MS: String(windowMs) });
    let silent: { stop(closeActive?: boolean): void } | undefined;
    try {
      const s = await stream('sk_reconnect_silent_9c1d', vanishing.rtmpUrl, short);
      await s.until('live');
      await vanishing.stop();
      await s.until('reconnecting');
      // The port now accepts connections and never answers the RTMP handshake: every try hangs.
      silent = Bun.listen({ hostname: '127.0.0.1', port, socket: { data() {} } });
      expect(await s.closed).toBe(4502);
      const first = s.messages.find((m) => m.type === 'reconnecting');
      expect(s.messages.at(-1)).toEqual({ type: 'error', code: first.code, message: expect.not.stringContaining('did not go live') });
    } finally {
      silent?.stop(true);
      await short.stop();
    }
  });

  test('a client that did not ask for reconnects gets 4502 at once, as before', async () => {
    const other = await startRtmpServer();
    const plain = await fixture.startRelay({ RELAY_ALLOWED_INGESTS: `rtmp://127.0.0.1:${other.port}` });
    try {
      const messages: any[] = [];
      const socket = await openRelaySocket(plain.wsUrl, (m) => messages.push(m));
      socket.ws.send(JSON.stringify(fixture.startMessage('sk_no_reconnect_7a8b', { ingest: other.rtmpUrl })));
      await until(messages, 'ready');
      const bytes = new Uint8Array(await Bun.file(clip).arrayBuffer());
      const slice = Math.ceil(bytes.byteLength / (CLIP_SECONDS * 4));
      // Real time, for as long as the session lasts.
      void (async () => {
        for (let i = 0; !socket.isClosed() && i * slice < bytes.byteLength; i++) {
          socket.ws.send(bytes.subarray(i * slice, (i + 1) * slice));
          await Bun.sleep(250);
        }
      })();
      await until(messages, 'live');
      await other.stop();
      const { closeCode } = await socket.closedWithin(15_000, () => JSON.stringify(messages));
      expect(closeCode).toBe(4502);
      expect(messages.some((m) => m.type === 'reconnecting')).toBe(false);
    } finally {
      await plain.stop();
    }
  });
});
