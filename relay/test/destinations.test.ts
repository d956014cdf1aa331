import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { makeBigTestMedia, makeTestMedia } from '../../harness/clips.ts';
import { streamFile } from '../../harness/media.ts';
import { probeRecording } from '../../harness/probe.ts';
import { startRelayFixture, type RelayFixture } from '../../harness/relay-fixture.ts';
import type { RelayProcess } from '../../harness/relay-process.ts';
import { startRtmpServer, type RtmpServer } from '../../harness/rtmp-server.ts';
import { exchange, openRelaySocket, until } from '../../harness/ws-client.ts';

// Several destinations in one session (docs/protocol.md#several-destinations): the relay encodes
// once and a publisher per destination copies to its ingest, each failing and reconnecting on its
// own. Real FFmpeg, two real nginx-rtmp sinks.

let fixture: RelayFixture;
let a: RtmpServer;
let b: RtmpServer;
let relay: RelayProcess;

beforeAll(async () => {
  fixture = await startRelayFixture({ sinks: 2, env: () => ({ RELAY_MAX_SESSIONS: '3' }) });
  ({ relay, rtmp: a } = fixture);
  b = fixture.sinks[1]!;
});

afterAll(async () => {
  await fixture?.stop();
});

const start = (key: string, destinations: object[], over: object = {}) => ({ ...fixture.startMessage(key), destinations, ...over });

describe('two destinations', () => {
  test('one encode, two recordings; one sink restarted mid-stream reconnects on its own while the other streams on', async () => {
    const seconds = 20;
    const key = 'sk_dest_a_1a2b';
    const keyB = 'sk_dest_b_3c4d';
    let restarted = false;
    const result = await streamFile(relay.wsUrl, start(key, [{ ingest: b.rtmpUrl, streamKey: keyB }]), await makeTestMedia('h264-opus-mkv', seconds), {
      seconds,
      onMessage: (msg) => {
        // A second after both are live, sink B restarts (it then needs the next key frame, up to 2 s on).
        if (msg.type === 'stats' && msg.destinations?.every((d: any) => d.state === 'live') && !restarted) {
          restarted = true;
          setTimeout(() => void b.restart(), 1000);
        }
      },
    });
    expect(restarted).toBe(true);
    expect(result.closeCode).toBe(1000);
    expect(result.messages.filter((m) => m.type === 'live')).toHaveLength(1);
    expect(result.messages.some((m) => m.type === 'reconnecting')).toBe(false);
    const states = result.stats.map((s) => s.destinations.map((d: any) => `${d.ingest.slice(-5)}:${d.state}`).join(' '));
    // Once live, A stays live throughout B's restart.
    const aLive = result.stats.findIndex((s) => s.destinations[0].state === 'live');
    expect(result.stats.slice(aLive).every((s) => s.destinations[0].state === 'live')).toBe(true);
    expect(result.stats.some((s) => s.destinations[1].state === 'reconnecting')).toBe(true);
    const last = result.stats.at(-1).destinations;
    expect(last.map((d: any) => d.ingest)).toEqual([a.rtmpUrl, b.rtmpUrl].map((u) => u.replace(/\/live\/$/, '')));
    expect(last[0]).toMatchObject({ state: 'live', reconnects: 0, downMs: 0 });
    expect(last[1]).toMatchObject({ state: 'live', reconnects: 1 });
    console.log(`destination B was down ${last[1].downMs} ms; states seen: ${[...new Set(states)].join(' | ')}`);

    // A: one uninterrupted recording of the whole stream.
    const probeA = await probeRecording(await a.waitForRecording(key));
    expect(probeA.videoCodec).toBe('h264');
    expect(probeA.audioCodec).toBe('aac');
    expect(probeA.timestampsMonotonic).toBe(true);
    expect(probeA.durationS).toBeGreaterThan(seconds - 2);
    // B: the recording after its restart, from a key frame.
    const probeB = await probeRecording(await b.waitForRecording(keyB));
    expect(probeB.videoCodec).toBe('h264');
    expect(probeB.audioCodec).toBe('aac');
    expect(probeB.startsWithKeyframe).toBe(true);
    expect(probeB.timestampsMonotonic).toBe(true);
    expect(probeB.durationS).toBeGreaterThan(3);
    await fixture.waitIdle();
  });

  test('a destination whose ingest freezes holds no other back: the session ends cleanly, that destination failed', async () => {
    const frozen = await startRtmpServer();
    const other = await fixture.startRelay({
      RELAY_ALLOWED_INGESTS: `rtmp://127.0.0.1:${a.port},rtmp://127.0.0.1:${frozen.port}`,
      // Short, so the frozen destination fails within the test; not so short that a busy machine's slow FFmpeg start looks like a stall.
      RELAY_INGEST_STALL_TIMEOUT_MS: '5000',
    });
    try {
      // 16 Mbit/s: enough to fill every buffer between the publisher and the frozen ingest.
      const seconds = 10;
      const key = 'sk_dest_beside_frozen_9c0d';
      let froze = false;
      const result = await streamFile(other.wsUrl, start(key, [{ ingest: frozen.rtmpUrl, streamKey: 'sk_dest_frozen_1e2f' }]), await makeBigTestMedia(), {
        seconds,
        onMessage: (msg) => {
          if (msg.type === 'stats' && msg.destinations?.every((d: any) => d.state === 'live') && !froze) {
            froze = true;
            frozen.freeze(true);
          }
        },
      });
      expect(froze).toBe(true);
      // The frozen ingest cannot take the end of the stream: its publisher is killed, the session is not failed for it.
      expect(result.closeCode).toBe(1000);
      expect(result.messages.at(-1)).toEqual({ type: 'ended' });
      // The encoder never waited for it: the relay never held the browser back.
      expect(result.stats.every((s) => s.bufferedBytes < 1024 * 1024)).toBe(true);
      const probe = await probeRecording(await a.waitForRecording(key));
      expect(probe.timestampsMonotonic).toBe(true);
      expect(probe.durationS).toBeGreaterThan(seconds - 2);
      expect(other.output()).toContain('"msg":"destination failed","session"');
      expect(other.output()).toContain('"reason":"ingest did not accept the end of the stream in time"');
      await fixture.waitIdle(undefined, other);
    } finally {
      frozen.freeze(false);
      await other.stop();
      await frozen.stop();
    }
  });

  test('a destination that never goes live fails alone; the session streams to the other', async () => {
    const key = 'sk_dest_alone_5e6f';
    // Port 1 refuses at once, and is on no allow-list: a stopped sink stands in for it.
    const gone = await startRtmpServer();
    const url = gone.rtmpUrl;
    await gone.stop();
    const other = await fixture.startRelay({ RELAY_ALLOWED_INGESTS: `rtmp://127.0.0.1:${a.port},${url.replace(/\/live\/$/, '')}` });
    try {
      const result = await streamFile(other.wsUrl, start(key, [{ ingest: url, streamKey: 'sk_dest_gone_7a8b' }]), await makeTestMedia('h264-opus-mkv', 6), { seconds: 6 });
      expect(result.closeCode).toBe(1000);
      expect(result.stats.at(-1).destinations.map((d: any) => d.state)).toEqual(['live', 'failed']);
      expect((await probeRecording(await a.waitForRecording(key))).durationS).toBeGreaterThan(4);
      expect(other.output()).toContain('"msg":"destination failed"');
    } finally {
      await other.stop();
    }
  });
});

describe('refusals', () => {
  test('more than RELAY_MAX_DESTINATIONS (3) → 4000, before any FFmpeg', async () => {
    const more = [1, 2, 3].map((i) => ({ ingest: b.rtmpUrl, streamKey: `sk_extra_${i}` }));
    const r = await exchange(relay.wsUrl, [JSON.stringify(start('sk_too_many', more))]);
    expect(r.closeCode).toBe(4000);
    expect(r.messages.at(-1)).toEqual({ type: 'error', code: 'BAD_REQUEST', message: 'too many destinations (RELAY_MAX_DESTINATIONS: 3)' });
  });

  test('each destination is checked as the first one is: allow-list, key, duplicates, shape', async () => {
    const cases: [object[], number, string][] = [
      [[{ ingest: 'rtmp://ingest.evil.example/live/', streamKey: 'k1' }], 4003, 'DESTINATION_FORBIDDEN'],
      [[{ ingest: b.rtmpUrl, streamKey: 'live?x=1' }], 4000, 'BAD_REQUEST'],
      [[{ ingest: a.rtmpUrl, streamKey: 'sk_same' }], 4000, 'BAD_REQUEST'],
      [[{ ingest: b.rtmpUrl }], 4000, 'BAD_REQUEST'],
    ];
    for (const [destinations, closeCode, code] of cases) {
      const r = await exchange(relay.wsUrl, [JSON.stringify(start('sk_same', destinations))]);
      expect([r.closeCode, r.messages.at(-1).code]).toEqual([closeCode, code]);
    }
    expect(relay.ffmpegChildren()).toHaveLength(0);
  });

  test('each destination takes a slot: a two-destination session and another session fill RELAY_MAX_SESSIONS (3)', async () => {
    const messages: any[] = [];
    const held = await openRelaySocket(relay.wsUrl, (m) => messages.push(m));
    held.ws.send(JSON.stringify(start('sk_slots_a', [{ ingest: b.rtmpUrl, streamKey: 'sk_slots_b' }])));
    await until(messages, 'ready');
    const singleMessages: any[] = [];
    const single = await openRelaySocket(relay.wsUrl, (m) => singleMessages.push(m));
    single.ws.send(JSON.stringify(start('sk_slots_c', [])));
    await until(singleMessages, 'ready');
    const refused = await exchange(relay.wsUrl, [JSON.stringify(start('sk_slots_d', []))]);
    expect(refused.closeCode).toBe(4013);
    expect(((await (await fetch(`${relay.httpUrl}/healthz`)).json()) as { sessions: number }).sessions).toBe(3);
    held.ws.send(JSON.stringify({ type: 'stop' }));
    single.ws.send(JSON.stringify({ type: 'stop' }));
    await fixture.waitIdle();
  });
});
