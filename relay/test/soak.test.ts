import { expect, test } from 'bun:test';
import { runSoak } from '../../bench/lib/soak.ts';

// The short soak (the long one is `npx projen soak`): 7 sessions for 60 s (up to 100 s, until every fault kind has hit a session) through one relay into
// two nginx-rtmp servers, with a fault every 5 s cycling through every kind — FFmpeg killed,
// RTMP server restarted, client vanishing, garbage text and media, an oversized frame, a frozen
// client. No speed assertions: only what must hold on any machine.

test('soak: faults end only their own sessions, with the right close code, and leave nothing behind', async () => {
  const report = await runSoak({
    sessions: 7,
    durationMs: 60_000,
    // On a busy machine sessions start later and a planned fault may find none: the load then goes on until every kind has hit one.
    maxDurationMs: 100_000,
    clipSeconds: 12,
    faultEveryMs: 5000,
    firstFaultAtMs: 4000,
    warmupMs: 20_000,
    mediaTimeoutMs: 3000,
    flakySlots: 2,
    seed: 20261128,
    log: () => {},
  });
  const unfaulted = report.sessions.filter((s) => !s.fault);
  // Enough happened for the properties below to mean something.
  expect(unfaulted.length).toBeGreaterThanOrEqual(10);
  expect(new Set(report.sessions.flatMap((s) => (s.fault ? [s.fault] : []))).size).toBe(7);
  // No zombie or orphan FFmpeg while the relay ran, none left once sessions ended, none after it exited.
  expect(report.watch.zombies).toEqual([]);
  expect(report.watch.orphans).toEqual([]);
  expect(report.leftoverChildren).toBe(0);
  expect(report.survivors).toEqual([]);
  expect(report.relayExitCode).toBe(0);
  // Memory: relay RSS growth after warm-up under 10% (its floor, once every fault kind has run: bench/lib/soak.ts).
  expect(report.rss.growth).toBeLessThan(0.1);
  // Every session no fault hit made a valid recording (h264 + aac, 1280x720, full duration).
  for (const s of unfaulted) {
    expect({ key: s.key, close: s.closeCode, recording: s.recording?.ok }).toEqual({ key: s.key, close: 1000, recording: true });
  }
  // …and the full list of violations (close codes of faulted sessions included) is empty.
  expect(report.violations).toEqual([]);
}, 240_000);
