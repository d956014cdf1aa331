import { afterAll, beforeAll, expect, test } from 'bun:test';
import { makeTestMedia } from '../../harness/clips.ts';
import { waitFor } from '../../harness/ports.ts';
import { probeRecording } from '../../harness/probe.ts';
import { startReconnectingStream } from '../../harness/reconnecting-client.ts';
import { startRelayFixture, type RelayFixture } from '../../harness/relay-fixture.ts';

// docs/protocol.md#several-destinations: a session with several destinations reconnects as a whole
// (`reconnecting`, then the client's new recording) when its encoder fails, as a session with one
// destination does when its FFmpeg fails; its destinations fail and reconnect on their own.

const CLIP_SECONDS = 30;
let fx: RelayFixture;
let clip: string;

beforeAll(async () => {
  [fx, clip] = await Promise.all([
    startRelayFixture({ env: () => ({ RELAY_RECONNECT_WINDOW_MS: '20000', RELAY_MEDIA_TIMEOUT_MS: '3000' }) }),
    makeTestMedia('h264-opus-mkv', CLIP_SECONDS),
  ]);
});

afterAll(async () => {
  await fx?.stop();
});

test('the encoder of a two-destination session killed: reconnecting (encoder crashed), a new recording, both destinations live again', async () => {
  const keys = ['sk_fanout_kill_a_5e6f', 'sk_fanout_kill_b_7a8b'];
  const start = fx.startMessage(keys[0]!, { destinations: [{ ingest: fx.rtmp.rtmpUrl, streamKey: keys[1]! }] });
  const s = await startReconnectingStream(fx.relay.wsUrl, start, clip, CLIP_SECONDS);
  await s.until('live');
  const session = s.messages.find((m) => m.type === 'ready').session;
  await waitFor(() => fx.relay.ffmpegPidOf(session) !== undefined, 5000, 'the session ready line');
  await Bun.sleep(2000);
  process.kill(fx.relay.ffmpegPidOf(session)!, 'SIGKILL');
  await s.until('live', 2);
  expect(s.messages.find((m) => m.type === 'reconnecting')).toMatchObject({ attempt: 1, code: 'INTERNAL', message: 'encoder crashed' });
  expect(s.messages.filter((m) => m.type === 'ready')).toHaveLength(2);
  // Longer than the media timeout: the new encoder's output time starts over at 0.
  await Bun.sleep(5000);
  const stats = s.messages.filter((m) => m.type === 'stats').at(-1);
  expect(stats.destinations.map((d: { state: string }) => d.state)).toEqual(['live', 'live']);
  s.stop();
  expect(await s.closed).toBe(1000);
  for (const key of keys) {
    // nginx-rtmp records each publish of a key to the same file: what it holds now is the recording after the reconnect.
    const probe = await probeRecording(await fx.rtmp.waitForRecording(key));
    expect(probe.videoCodec).toBe('h264');
    expect(probe.startsWithKeyframe).toBe(true);
    expect(probe.timestampsMonotonic).toBe(true);
    expect(probe.durationS).toBeGreaterThan(3.5);
  }
  await fx.waitIdle();
});
