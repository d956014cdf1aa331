import { describe, expect, test } from 'bun:test';
import { createCapacity, type Slot } from '../../src/capacity.ts';

// The relay's slots (docs/pipeline.md#backpressure-and-limits): RELAY_MAX_SESSIONS in all, of
// which at most RELAY_MAX_TRANSCODES transcodes; a slot is a value whose release counts once.

describe('capacity slots', () => {
  test('sessions and transcodes are capped separately; a transcode counts against both', () => {
    const changes: number[] = [];
    const cap = createCapacity({ maxSessions: 3, maxTranscodes: 1 }, (held) => changes.push(held));
    const t = cap.reserve('transcode');
    expect(t?.kind).toBe('transcode');
    expect(cap.reserve('transcode')).toBeUndefined();
    const c1 = cap.reserve('copy');
    const c2 = cap.reserve('copy');
    expect([c1?.kind, c2?.kind]).toEqual(['copy', 'copy']);
    expect(cap.held).toBe(3);
    expect(cap.reserve('copy')).toBeUndefined();
    // A refusal changes nothing.
    expect(changes).toEqual([1, 2, 3]);
    c1!.release();
    expect(cap.reserve('transcode')).toBeUndefined();
    expect(cap.reserve('copy')?.kind).toBe('copy');
    t!.release();
    expect(cap.held).toBe(2);
    expect(cap.reserve('transcode')?.kind).toBe('transcode');
  });

  test('release is idempotent: a second call neither frees another slot nor reports a change', () => {
    const changes: number[] = [];
    const cap = createCapacity({ maxSessions: 1, maxTranscodes: 1 }, (held) => changes.push(held));
    const slot = cap.reserve('transcode')!;
    slot.release();
    slot.release();
    expect(cap.held).toBe(0);
    expect(changes).toEqual([1, 0]);
    // Still exactly one slot, and one transcode.
    const again = cap.reserve('transcode');
    expect(again).toBeDefined();
    expect(cap.reserve('copy')).toBeUndefined();
    slot.release();
    expect(cap.held).toBe(1);
  });

  test('zero limits refuse everything of their kind', () => {
    expect(createCapacity({ maxSessions: 0, maxTranscodes: 4 }).reserve('copy')).toBeUndefined();
    const noTranscodes = createCapacity({ maxSessions: 4, maxTranscodes: 0 });
    expect(noTranscodes.reserve('transcode')).toBeUndefined();
    expect(noTranscodes.reserve('copy')).toBeDefined();
  });

  test('after any order of releases the relay is back to full capacity', () => {
    const cap = createCapacity({ maxSessions: 5, maxTranscodes: 2 });
    const held: Slot[] = [];
    for (const kind of ['transcode', 'copy', 'transcode', 'copy', 'copy'] as const) held.push(cap.reserve(kind)!);
    for (const i of [3, 0, 4, 0, 2, 1, 3]) held[i]!.release();
    expect(cap.held).toBe(0);
    const again = [cap.reserve('transcode'), cap.reserve('transcode'), cap.reserve('copy'), cap.reserve('copy'), cap.reserve('copy')];
    expect(again.every((s) => s !== undefined)).toBe(true);
    expect(cap.reserve('copy')).toBeUndefined();
  });
});
