import { describe, expect, test } from 'bun:test';
import { waitFor } from '../../../harness/ports.ts';
import { slotInvariantProblem, watchSlotInvariant, type SlotCounts } from '../../src/invariant.ts';

// Slots held and FFmpeg processes running agree between any two tasks (relay/src/invariant.ts); a
// relay where they do not logs it and exits non-zero so that ECS replaces it (docs/pipeline.md#faults).

describe('the slot invariant', () => {
  test('agreeing counts are fine; disagreeing ones, either way, are a problem that gives both numbers', () => {
    expect(slotInvariantProblem({ slotsHeld: 0, ffmpegRunning: 0 })).toBeUndefined();
    expect(slotInvariantProblem({ slotsHeld: 7, ffmpegRunning: 7 })).toBeUndefined();
    // A leaked slot: the relay would end up refusing everyone.
    expect(slotInvariantProblem({ slotsHeld: 3, ffmpegRunning: 2 })).toBe('3 capacity slots held but 2 FFmpeg processes running');
    // An uncounted FFmpeg: the relay would run past RELAY_MAX_SESSIONS.
    expect(slotInvariantProblem({ slotsHeld: 0, ffmpegRunning: 1 })).toBe('0 capacity slots held but 1 FFmpeg processes running');
  });

  test('the watcher acts on two failed checks in a row, once, and not on a single one', async () => {
    const readings: SlotCounts[] = [
      { slotsHeld: 1, ffmpegRunning: 1 },
      { slotsHeld: 2, ffmpegRunning: 1 }, // passes by itself
      { slotsHeld: 1, ffmpegRunning: 1 },
      { slotsHeld: 2, ffmpegRunning: 1 },
      { slotsHeld: 2, ffmpegRunning: 0 },
    ];
    let reads = 0;
    const broken: [string, SlotCounts][] = [];
    const stop = watchSlotInvariant(() => readings[Math.min(reads++, readings.length - 1)]!, (problem, counts) => broken.push([problem, counts]), 5);
    // Five checks 5 ms apart; on a busy machine they take longer than the 100 ms once slept here.
    await waitFor(() => broken.length > 0, 5000, 'the watcher to act');
    // Ten intervals more: it checks no further once it has acted.
    await Bun.sleep(50);
    stop();
    expect(broken).toEqual([['2 capacity slots held but 0 FFmpeg processes running', { slotsHeld: 2, ffmpegRunning: 0 }]]);
    expect(reads).toBe(5);
  });
});
