import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { makeTestMedia } from '../../harness/clips.ts';
import { streamFile, type StreamResult } from '../../harness/media.ts';
import { waitFor } from '../../harness/ports.ts';
import { probeRecording } from '../../harness/probe.ts';
import { isProcessAlive, isProcessRunning } from '../../harness/proc.ts';
import { startRelayFixture, type RelayFixture } from '../../harness/relay-fixture.ts';
import type { RelayProcess } from '../../harness/relay-process.ts';
import type { RtmpServer } from '../../harness/rtmp-server.ts';
import { exchange } from '../../harness/ws-client.ts';

// SIGTERM: stop accepting (healthz 503, new sessions 4013), let live sessions run until they
// end or the drain timeout, then stop the rest cleanly with `ended` and exit 0.

const DRAIN_MS = 7500;
/**
 * The long session's media: still streaming when the drain window closes, however long the session
 * took to go live before the signal (4 s and more on a busy machine: a 12 s clip ran out first).
 */
const LONG_SECONDS = 24;
let fixture: RelayFixture;
let rtmp: RtmpServer;
let relay: RelayProcess;

beforeAll(async () => {
  fixture = await startRelayFixture({ env: () => ({ RELAY_DRAIN_TIMEOUT_MS: String(DRAIN_MS) }) });
  ({ rtmp, relay } = fixture);
  await Promise.all([makeTestMedia('h264-opus-mkv', 6), makeTestMedia('h264-opus-mkv', LONG_SECONDS), makeTestMedia('h264-opus-mkv', 12)]);
});

afterAll(async () => {
  await fixture?.stop();
});

describe('SIGTERM drain', () => {
  test('refuses new work, lets a short session finish, stops a long one cleanly, exits 0', async () => {
    const start = (streamKey: string) => fixture.startMessage(streamKey);
    const pids: number[] = [];
    let liveCount = 0;
    const onMessage = (msg: any) => {
      if (msg.type === 'live') liveCount++;
    };
    // 6 s: ends on its own inside the drain window. LONG_SECONDS: still streaming when the window closes.
    const short = streamFile(relay.wsUrl, start('sk_drain_short_1a'), await makeTestMedia('h264-opus-mkv', 6), { seconds: 6, onMessage });
    const long = streamFile(relay.wsUrl, start('sk_drain_long_2b'), await makeTestMedia('h264-opus-mkv', LONG_SECONDS), { seconds: LONG_SECONDS, onMessage });
    await waitFor(() => liveCount === 2, 15_000, 'both sessions to be live');
    pids.push(...relay.ffmpegChildren());
    expect(pids).toHaveLength(2);

    const signalledAt = Date.now();
    relay.signal('SIGTERM');
    await waitFor(async () => (await fetch(`${relay.httpUrl}/healthz`)).status === 503, 2000, 'healthz to turn 503');
    const health = await fetch(`${relay.httpUrl}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({ status: 'draining' });
    const refused = await exchange(relay.wsUrl, [JSON.stringify(start('sk_drain_refused_3c'))]);
    expect(refused.closeCode).toBe(4013);
    expect(refused.messages.at(-1)).toMatchObject({ type: 'error', code: 'UNAVAILABLE' });

    const [s, l]: StreamResult[] = await Promise.all([short, long]);
    expect(s.closeCode).toBe(1000);
    expect(s.messages.at(-1)).toEqual({ type: 'ended' });
    expect(l.closeCode).toBe(1000);
    expect(l.messages.at(-1)).toEqual({ type: 'ended' });
    expect(l.messages.some((m) => m.type === 'error')).toBe(false);

    expect(await relay.exited).toBe(0);
    // The long session was stopped by the drain timeout, not by running out of media.
    expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(DRAIN_MS);
    expect(relay.output()).toContain('"msg":"stopping","session"');
    expect(relay.output()).toContain('"reason":"drain"');
    for (const pid of pids) expect(isProcessAlive(pid)).toBe(false);

    const shortProbe = await probeRecording(await rtmp.waitForRecording('sk_drain_short_1a'));
    expect(Math.abs(shortProbe.durationS - 6)).toBeLessThanOrEqual(0.6);
    const longProbe = await probeRecording(await rtmp.waitForRecording('sk_drain_long_2b'));
    expect(longProbe.videoCodec).toBe('h264');
    expect(longProbe.durationS).toBeLessThan(LONG_SECONDS);
  });
});

describe('relay killed outright', () => {
  test('SIGKILL of the relay leaves no FFmpeg running: each ends on the end of its stdin', async () => {
    const victim = await fixture.startRelay();
    let pids: number[] = [];
    const result = await streamFile(victim.wsUrl, fixture.startMessage('sk_relay_killed_4d'), await makeTestMedia('h264-opus-mkv', 12), {
      seconds: 12,
      onMessage(msg) {
        if (msg.type !== 'live') return;
        pids = victim.ffmpegChildren();
        victim.signal('SIGKILL');
      },
    });
    expect(result.closeCode).toBe(1006);
    expect(pids).toHaveLength(1);
    await waitFor(() => pids.every((p) => !isProcessRunning(p)), 10_000, 'the orphaned ffmpeg to exit');
    await victim.stop();
  });
});
