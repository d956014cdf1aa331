import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { waitFor } from '../../harness/ports.ts';
import { startRelayFixture, type RelayFixture } from '../../harness/relay-fixture.ts';
import type { RelayProcess } from '../../harness/relay-process.ts';
import { exchange } from '../../harness/ws-client.ts';

// Capacity slots through a real relay (docs/pipeline.md#backpressure-and-limits): a session holds
// its slot from passing every check until its FFmpeg has exited, whichever way it ends, and every
// ending gives exactly one slot back.

const COPY = 'video/x-matroska;codecs=avc1,opus';
const TRANSCODE = 'video/webm;codecs=vp8,opus';
let fixture: RelayFixture;
let relay: RelayProcess;

beforeAll(async () => {
  fixture = await startRelayFixture({
    env: () => ({ RELAY_MAX_SESSIONS: '2', RELAY_MAX_TRANSCODES: '1', RELAY_MAX_MESSAGE_BYTES: '65536' }),
  });
  relay = fixture.relay;
});

afterAll(async () => {
  await fixture?.stop();
});

const start = (streamKey: string, mimeType: string) => JSON.stringify(fixture.startMessage(streamKey, { mimeType }));

/** A session held open after `ready`, until the test ends it. */
interface Held {
  readonly ws: WebSocket;
  readonly session: string;
  /** Resolves with the close code. */
  readonly closed: Promise<number>;
  /** Sends `stop` (no media was sent, so the relay ends it at once) and resolves with the close code. */
  stop(): Promise<number>;
}

async function hold(streamKey: string, mimeType: string): Promise<Held> {
  const ws = new WebSocket(relay.wsUrl);
  const messages: any[] = [];
  let onMessage = () => {};
  ws.onmessage = (ev) => {
    messages.push(JSON.parse(String(ev.data)));
    onMessage();
  };
  const closed = new Promise<number>((resolve) => {
    ws.onclose = (ev) => {
      onMessage();
      resolve(ev.code);
    };
  });
  await new Promise((resolve) => (ws.onopen = resolve));
  ws.send(start(streamKey, mimeType));
  // The first message, or the close.
  await new Promise<void>((resolve) => (onMessage = resolve));
  expect(messages[0]).toMatchObject({ type: 'ready' });
  return {
    ws,
    session: messages[0].session,
    closed,
    stop: () => (ws.send(JSON.stringify({ type: 'stop' })), closed),
  };
}

/** The session's FFmpeg, from its `session ready` line (which may reach the test after the `ready` frame). */
async function ffmpegPid(session: string): Promise<number> {
  await waitFor(() => relay.ffmpegPidOf(session) !== undefined, 5000, `the ffmpeg pid of ${session}`);
  return relay.ffmpegPidOf(session)!;
}

async function refusedCode(streamKey: string, mimeType: string): Promise<number> {
  const r = await exchange(relay.wsUrl, [start(streamKey, mimeType)]);
  expect(r.messages.at(-1)).toMatchObject({ type: 'error', code: 'UNAVAILABLE', message: 'relay is at capacity; try another relay' });
  return r.closeCode;
}

async function sessionsHeld(): Promise<number> {
  return ((await (await fetch(`${relay.httpUrl}/healthz`)).json()) as { sessions: number }).sessions;
}

function waitIdle(): Promise<void> {
  return fixture.waitIdle();
}

/** Fills the relay (one transcode, one copy), checks both caps refuse, and ends both sessions. */
async function expectFullCapacity(tag: string): Promise<void> {
  const transcode = await hold(`sk_cap_${tag}_t`, TRANSCODE);
  expect(await refusedCode(`sk_cap_${tag}_t2`, TRANSCODE)).toBe(4013);
  const copy = await hold(`sk_cap_${tag}_c`, COPY);
  expect(await refusedCode(`sk_cap_${tag}_c2`, COPY)).toBe(4013);
  expect(await sessionsHeld()).toBe(2);
  expect(await Promise.all([transcode.stop(), copy.stop()])).toEqual([1000, 1000]);
  await waitIdle();
}

describe('capacity slots', () => {
  test('both caps hold, and once sessions end their slots are back', async () => {
    await expectFullCapacity('first');
    await expectFullCapacity('again');
  });

  test('a slot is held until FFmpeg has exited, not until the socket closes', async () => {
    const s = await hold('sk_cap_frozen_ffmpeg', TRANSCODE);
    const pid = await ffmpegPid(s.session);
    process.kill(pid, 'SIGSTOP');
    try {
      // The client leaves without `stop`: FFmpeg gets the end of its input, but cannot act on it while stopped.
      s.ws.close();
      await s.closed;
      await Bun.sleep(1000);
      expect(await sessionsHeld()).toBe(1);
      expect(await refusedCode('sk_cap_frozen_t2', TRANSCODE)).toBe(4013);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitIdle();
  });

  test('sessions that fail give their slot back exactly once', async () => {
    // After ready: an oversized media frame (1009), FFmpeg killed by a signal the relay did not send
    // (1011), and a client that vanishes (FFmpeg finishes its empty input).
    const big = await hold('sk_cap_big_frame', TRANSCODE);
    big.ws.send(new Uint8Array(100_000));
    expect(await big.closed).toBe(1009);
    // The slot comes back once the killed FFmpeg is reaped, a moment after the close.
    await waitIdle();
    const crashed = await hold('sk_cap_crashed', TRANSCODE);
    process.kill(await ffmpegPid(crashed.session), 'SIGKILL');
    expect(await crashed.closed).toBe(1011);
    await waitIdle();
    const vanished = await hold('sk_cap_vanished', COPY);
    vanished.ws.close();
    await vanished.closed;
    await waitIdle();
    // Each failure path released its slot once: the caps are exactly where they were.
    await expectFullCapacity('after_failures');
  });
});
