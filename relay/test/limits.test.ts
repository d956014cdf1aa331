import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { makeTestMedia } from '../../harness/clips.ts';
import { streamFile } from '../../harness/media.ts';
import { waitFor } from '../../harness/ports.ts';
import { probeRecording } from '../../harness/probe.ts';
import { startRelayFixture, type RelayFixture } from '../../harness/relay-fixture.ts';
import type { RelayProcess } from '../../harness/relay-process.ts';
import type { RtmpServer } from '../../harness/rtmp-server.ts';
import { openFrom, type SourceAddressSocket } from '../../harness/source-address-client.ts';
import { exchange, openRelaySocket, until, type RelaySocket } from '../../harness/ws-client.ts';

// Slots and unstarted sockets cannot be squatted (docs/pipeline.md#backpressure-and-limits): a
// session must go live in time, a start message is small, and one client address holds only so many
// sessions and so many connections waiting to start. Every refusal comes before any FFmpeg.

/** The first sink takes the sessions; the second is frozen by the buffered-bytes suite. */
let fixture: RelayFixture;
let rtmp: RtmpServer;

beforeAll(async () => {
  // The fixture's own relay has every limit at its default (the frame-size suite's).
  fixture = await startRelayFixture({ sinks: 2 });
  rtmp = fixture.rtmp;
});

afterAll(async () => {
  fixture?.sinks[1]?.freeze(false);
  await fixture?.stop();
});

const start = (streamKey: string, over: Record<string, unknown> = {}) => JSON.stringify({ ...fixture.startMessage(streamKey), ...over });

/** A relay with `env` beside the fixture's; each suite stops its own. */
const relayWith = (env: Record<string, string>): Promise<RelayProcess> => fixture.startRelay(env);

const idle = (relay: RelayProcess) => fixture.waitIdle(undefined, relay);

/**
 * Resolves once the FFmpeg of the session that sent `ready` in `messages` is a child of `relay`: the
 * relay spawns it before `ready`, but on a busy machine the child may not have exec'd FFmpeg yet.
 */
async function ffmpegOf(relay: RelayProcess, messages: any[]): Promise<void> {
  const session = messages.find((m) => m.type === 'ready').session;
  await waitFor(() => relay.ffmpegChildren().includes(relay.ffmpegPidOf(session) ?? -1), 15_000, `the ffmpeg of ${session}`);
}

/** A session held at `ready` (no media) from 127.0.0.1, its FFmpeg running. */
async function holdReady(relay: RelayProcess, streamKey: string): Promise<{ socket: RelaySocket; messages: any[] }> {
  const messages: any[] = [];
  const socket = await openRelaySocket(relay.wsUrl, (m) => messages.push(m));
  socket.ws.send(start(streamKey));
  await until(messages, 'ready');
  await ffmpegOf(relay, messages);
  return { socket, messages };
}

describe('RELAY_LIVE_TIMEOUT_MS', () => {
  let relay: RelayProcess;
  beforeAll(async () => {
    relay = await relayWith({ RELAY_LIVE_TIMEOUT_MS: '2500' });
  });
  afterAll(async () => {
    await relay?.stop();
  });

  test('a client dribbling a byte at a time never lets FFmpeg open its output: 4502, and the slot goes back', async () => {
    const messages: any[] = [];
    const socket = await openRelaySocket(relay.wsUrl, (m) => messages.push(m));
    socket.ws.send(start('sk_dribbler_1a2b3c'));
    await until(messages, 'ready');
    const readyAt = Date.now();
    // Far more often than RELAY_MEDIA_TIMEOUT_MS (10 s), far too little for FFmpeg's 8 KiB probe.
    const clip = new Uint8Array(await Bun.file(await makeTestMedia('h264-opus-mkv', 6)).arrayBuffer());
    for (let i = 0; !socket.isClosed() && Date.now() - readyAt < 15_000; i++) {
      socket.ws.send(clip.subarray(i, i + 1));
      await Bun.sleep(100);
    }
    const { closeCode } = await socket.closedWithin(5000, () => JSON.stringify(messages));
    expect(closeCode).toBe(4502);
    expect(messages.at(-1)).toEqual({ type: 'error', code: 'INGEST_FAILED', message: 'stream did not go live within 2500 ms' });
    expect(messages.some((m) => m.type === 'live')).toBe(false);
    expect(Date.now() - readyAt).toBeGreaterThanOrEqual(2500);
    await idle(relay);
  });

  test('a stream that goes live in time streams on past the timeout', async () => {
    const key = 'sk_live_in_time_4d5e6f';
    const r = await streamFile(relay.wsUrl, JSON.parse(start(key)), await makeTestMedia('h264-opus-mkv', 6), { seconds: 6 });
    expect(r.gotLive).toBe(true);
    expect(r.closeCode).toBe(1000);
    expect(r.messages.at(-1)).toEqual({ type: 'ended' });
    await rtmp.waitForRecording(key);
  });
});

describe('frame sizes', () => {
  let relay: RelayProcess;
  beforeAll(() => {
    // RELAY_MAX_MESSAGE_BYTES at its default: 1 MiB.
    relay = fixture.relay;
  });

  test('a start message over 16 KiB → 1009, though far under RELAY_MAX_MESSAGE_BYTES', async () => {
    const r = await exchange(relay.wsUrl, [start('sk_padded_start_7a8b', { pad: 'x'.repeat(20 * 1024) })]);
    expect(r.closeCode).toBe(1009);
    expect(r.messages).toEqual([{ type: 'error', code: 'MESSAGE_TOO_BIG', message: expect.stringMatching(/exceeds 16384$/) }]);
    expect(relay.logs.some((l) => l.msg === 'session ready')).toBe(false);
  });

  test('a start message with a long token is read: a 15 KiB token is checked (and refused) as a token', async () => {
    const r = await exchange(relay.wsUrl, [start('sk_long_token_9c0d', { token: `${'a'.repeat(15 * 1024)}.b.c` })]);
    expect(r.closeCode).toBe(4001);
  });

  test('a media frame over 1 MiB → 1009 by default', async () => {
    const r = await exchange(relay.wsUrl, [start('sk_big_frame_1e2f'), async (m) => (await until(m, 'ready'), new Uint8Array(1536 * 1024))]);
    expect(r.closeCode).toBe(1009);
    expect(r.messages.at(-1)).toMatchObject({ type: 'error', code: 'MESSAGE_TOO_BIG', message: expect.stringMatching(/exceeds 1048576$/) });
    await idle(relay);
  });
});

describe('RELAY_MEDIA_TIMEOUT_MS, once live', () => {
  let relay: RelayProcess;
  beforeAll(async () => {
    relay = await relayWith({ RELAY_MEDIA_TIMEOUT_MS: '3000' });
  });
  afterAll(async () => {
    await relay?.stop();
  });

  test('a live session whose client then dribbles a byte at a time → 4408: bytes arriving are not media reaching the ingest', async () => {
    const messages: any[] = [];
    const socket = await openRelaySocket(relay.wsUrl, (m) => messages.push(m));
    socket.ws.send(start('sk_live_dribbler_7c8d9e'));
    await until(messages, 'ready');
    // Real time until live, then a byte every 200 ms: far more often than the timeout, far too
    // little for a single frame.
    const clip = new Uint8Array(await Bun.file(await makeTestMedia('h264-opus-mkv', 12)).arrayBuffer());
    const slice = Math.ceil(clip.byteLength / 48);
    let offset = 0;
    while (!messages.some((m) => m.type === 'live') && offset < clip.byteLength) {
      socket.ws.send(clip.subarray(offset, offset + slice));
      offset += slice;
      await Bun.sleep(250);
    }
    expect(messages.some((m) => m.type === 'live')).toBe(true);
    const dribbleFrom = Date.now();
    while (!socket.isClosed() && Date.now() - dribbleFrom < 15_000) {
      socket.ws.send(clip.subarray(offset, offset + 1));
      offset++;
      await Bun.sleep(200);
    }
    const { closeCode } = await socket.closedWithin(5000, () => JSON.stringify(messages));
    expect(closeCode).toBe(4408);
    expect(messages.at(-1)).toEqual({ type: 'error', code: 'MEDIA_TIMEOUT', message: 'no media for 3000 ms' });
    expect(Date.now() - dribbleFrom).toBeLessThan(10_000);
    await idle(relay);
  });
});

describe('RELAY_MAX_TOTAL_BUFFERED_BYTES', () => {
  const MIB = 1024 * 1024;
  let relay: RelayProcess;
  /** An ingest that accepts connections and never answers: the relay's queues in front of FFmpeg grow. */
  let stalled: RtmpServer;
  beforeAll(async () => {
    stalled = fixture.sinks[1]!;
    stalled.freeze(true);
    // Only the budget can end the stalled sessions within the test: the stall and live timeouts are far off.
    // Both sinks are on its allow-list.
    relay = await relayWith({
      RELAY_MAX_MESSAGE_BYTES: String(MIB),
      RELAY_MAX_BUFFERED_BYTES: String(4 * MIB),
      RELAY_MAX_TOTAL_BUFFERED_BYTES: String(4 * MIB),
      RELAY_INGEST_STALL_TIMEOUT_MS: '60000',
      RELAY_LIVE_TIMEOUT_MS: '60000',
    });
  });
  afterAll(async () => {
    await relay?.stop();
    stalled?.freeze(false);
  });

  test('sessions behind a stalled ingest are ended, biggest first, once the relay holds the budget; a healthy session streams on', async () => {
    const clip = new Uint8Array(await Bun.file(await makeTestMedia('h264-opus-mkv', 12)).arrayBuffer());
    const frame = 512 * 1024;
    const stuck = await Promise.all([1, 2, 3].map(async (i) => {
      const messages: any[] = [];
      const socket = await openRelaySocket(relay.wsUrl, (m) => messages.push(m));
      socket.ws.send(start(`sk_stalled_${i}_0a1b`, { ingest: stalled.rtmpUrl }));
      await until(messages, 'ready');
      return { socket, messages };
    }));
    // Each sends as fast as its socket takes it; the relay stops reading each at its high-water mark.
    await Promise.all(stuck.map(async ({ socket }) => {
      for (let offset = 0; offset < clip.byteLength && !socket.isClosed(); offset += frame) {
        socket.ws.send(clip.subarray(offset, offset + frame));
        await Bun.sleep(20);
      }
    }));
    await waitFor(() => stuck.some(({ socket }) => socket.isClosed()), 15_000, 'a stalled session to be ended by the budget');
    const ended = stuck.filter(({ socket }) => socket.isClosed());
    for (const { messages } of ended) {
      expect(messages.at(-1)).toEqual({
        type: 'error',
        code: 'INGEST_FAILED',
        message: `ingest is not keeping up; the relay's buffered media limit (RELAY_MAX_TOTAL_BUFFERED_BYTES: ${4 * MIB}) was reached and this session held the most`,
      });
    }
    // Only as many as it took to get back under the budget.
    expect(ended.length).toBeLessThan(3);
    const key = 'sk_healthy_beside_stalled_2c3d';
    const healthy = await streamFile(relay.wsUrl, JSON.parse(start(key)), await makeTestMedia('h264-opus-mkv', 6), { seconds: 6 });
    expect(healthy.closeCode).toBe(1000);
    expect((await probeRecording(await rtmp.waitForRecording(key))).videoCodec).toBe('h264');
    // Thawed, the ingest takes what the survivors hold, so their FFmpeg finish well within the stall timeout.
    stalled.freeze(false);
    for (const { socket } of stuck) socket.ws.close();
    await idle(relay);
  });
});

describe('RELAY_MAX_SESSIONS_PER_ADDRESS', () => {
  let relay: RelayProcess;
  beforeAll(async () => {
    relay = await relayWith({ RELAY_MAX_SESSIONS: '10', RELAY_MAX_SESSIONS_PER_ADDRESS: '2' });
  });
  afterAll(async () => {
    await relay?.stop();
  });

  test('a third session from one address → 4013 naming the limit, before FFmpeg; another address still gets one', async () => {
    const held = [await holdReady(relay, 'sk_address_a_1'), await holdReady(relay, 'sk_address_a_2')];
    expect(relay.ffmpegChildren()).toHaveLength(2);
    const refused = await exchange(relay.wsUrl, [start('sk_address_a_3')]);
    expect(refused.closeCode).toBe(4013);
    expect(refused.messages).toEqual([{
      type: 'error', code: 'UNAVAILABLE', message: 'too many sessions from this address (RELAY_MAX_SESSIONS_PER_ADDRESS: 2); try another relay',
    }]);
    expect(relay.ffmpegChildren()).toHaveLength(2);
    // Another client address is not affected.
    const other = await openFrom('127.0.0.2', relay.wsUrl);
    other.sendText(start('sk_address_b_1'));
    await until(other.messages, 'ready');
    await ffmpegOf(relay, other.messages);
    expect(relay.ffmpegChildren()).toHaveLength(3);
    // A slot given back is the address's to use again.
    held[0]!.socket.ws.send(JSON.stringify({ type: 'stop' }));
    await held[0]!.socket.closedWithin(10_000, () => JSON.stringify(held[0]!.messages));
    await waitFor(() => relay.ffmpegChildren().length === 2, 10_000, 'the stopped session\'s ffmpeg to be reaped');
    held.push(await holdReady(relay, 'sk_address_a_4'));
    for (const h of held.slice(1)) h.socket.ws.send(JSON.stringify({ type: 'stop' }));
    other.sendText(JSON.stringify({ type: 'stop' }));
    expect(await other.closed).toBe(1000);
    await idle(relay);
  });
});

describe('RELAY_MAX_SESSIONS_PER_SUBJECT', () => {
  let relay: RelayProcess;
  beforeAll(async () => {
    relay = await relayWith({ RELAY_MAX_SESSIONS: '10', RELAY_MAX_SESSIONS_PER_SUBJECT: '2' });
  });
  afterAll(async () => {
    await relay?.stop();
  });

  test('a third session for one token subject → 4013 naming the limit, from any address; another subject still gets one', async () => {
    // The module's token has `sub: test-broadcaster`; a second token for it, as a backend would mint.
    const sameSubject = await fixture.makeToken();
    const held = [await holdReady(relay, 'sk_subject_a_1'), await holdReady(relay, 'sk_subject_a_2')];
    // Another address does not help: the token's subject is what holds the slots.
    const refused = await openFrom('127.0.0.3', relay.wsUrl);
    refused.sendText(start('sk_subject_a_3', { token: sameSubject }));
    expect(await refused.closed).toBe(4013);
    expect(refused.messages).toEqual([{
      type: 'error', code: 'UNAVAILABLE', message: 'too many sessions for this token\'s subject (RELAY_MAX_SESSIONS_PER_SUBJECT: 2)',
    }]);
    expect(relay.ffmpegChildren()).toHaveLength(2);
    const otherMessages: any[] = [];
    const other = await openRelaySocket(relay.wsUrl, (m) => otherMessages.push(m));
    other.ws.send(start('sk_subject_b_1', { token: await fixture.makeToken({ claims: { sub: 'another-broadcaster' } }) }));
    await until(otherMessages, 'ready');
    for (const h of held) h.socket.ws.send(JSON.stringify({ type: 'stop' }));
    other.ws.send(JSON.stringify({ type: 'stop' }));
    await idle(relay);
  });
});

describe('RELAY_MAX_PENDING_PER_ADDRESS and RELAY_MAX_PENDING_CONNECTIONS', () => {
  let relay: RelayProcess;
  beforeAll(async () => {
    relay = await relayWith({ RELAY_MAX_PENDING_PER_ADDRESS: '2', RELAY_MAX_PENDING_CONNECTIONS: '3', RELAY_START_TIMEOUT_MS: '20000' });
  });
  afterAll(async () => {
    await relay?.stop();
  });

  test('connections that never send a start message are bounded per address and in all; starting or leaving frees a place', async () => {
    const waiting: SourceAddressSocket[] = [await openFrom('127.0.0.1', relay.wsUrl), await openFrom('127.0.0.1', relay.wsUrl)];
    const third = await openFrom('127.0.0.1', relay.wsUrl);
    expect(await third.closed).toBe(4013);
    expect(third.messages).toEqual([{
      type: 'error',
      code: 'UNAVAILABLE',
      message: 'too many connections waiting to start from this address (RELAY_MAX_PENDING_PER_ADDRESS: 2); try another relay',
    }]);
    // Another address may wait too, up to the relay's total.
    waiting.push(await openFrom('127.0.0.2', relay.wsUrl));
    const fourth = await openFrom('127.0.0.3', relay.wsUrl);
    expect(await fourth.closed).toBe(4013);
    expect(fourth.messages.at(-1).message).toBe('too many connections waiting to start (RELAY_MAX_PENDING_CONNECTIONS: 3); try another relay');
    expect(relay.ffmpegChildren()).toEqual([]);
    // One of them starts a session: it waits no more, and its address may open another connection.
    waiting[0]!.sendText(start('sk_pending_started_1'));
    await until(waiting[0]!.messages, 'ready');
    const again = await openFrom('127.0.0.1', relay.wsUrl);
    // One leaves: its place is free again.
    waiting[2]!.close();
    await waiting[2]!.closed;
    await waitFor(async () => {
      const probe = await openFrom('127.0.0.3', relay.wsUrl);
      const admitted = await Promise.race([probe.closed.then(() => false), Bun.sleep(300).then(() => true)]);
      probe.close();
      await probe.closed;
      return admitted;
    }, 5000, 'a place among the waiting connections');
    for (const s of [waiting[1]!, again]) s.close();
    waiting[0]!.sendText(JSON.stringify({ type: 'stop' }));
    expect(await waiting[0]!.closed).toBe(1000);
    await idle(relay);
    expect(relay.logs.filter((l) => l.msg === 'session ready')).toHaveLength(1);
  });
});
