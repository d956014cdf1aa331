import { describe, expect, test } from 'bun:test';
import { createCapacity, type CapacityLimit, type Slot } from '../../src/capacity.ts';

// The relay's slots (docs/pipeline.md#backpressure-and-limits): RELAY_MAX_SESSIONS in all, of
// which at most RELAY_MAX_TRANSCODES transcodes, RELAY_MAX_SESSIONS_PER_ADDRESS for one client
// address and RELAY_MAX_SESSIONS_PER_SUBJECT for one token subject; a slot is a value whose release counts once, and a refusal names its limit.

const A = { address: '203.0.113.7' };
const B = { address: '198.51.100.23' };
const MANY = 1000;

/** The slot, or a failure naming the limit that refused it. */
function slot(s: Slot | CapacityLimit): Slot {
  if (typeof s === 'string') throw new Error(`refused by ${s}`);
  return s;
}

describe('capacity slots', () => {
  test('sessions and transcodes are capped separately; a transcode counts against both', () => {
    const changes: number[] = [];
    const limits = { maxSessions: 3, maxTranscodes: 1, maxSessionsPerAddress: MANY, maxSessionsPerSubject: MANY };
    const cap = createCapacity(limits, (held) => changes.push(held));
    const t = slot(cap.reserve('transcode', A));
    expect(t.kind).toBe('transcode');
    expect(cap.reserve('transcode', A)).toBe('transcodes');
    const c1 = slot(cap.reserve('copy', A));
    const c2 = slot(cap.reserve('copy', A));
    expect([c1.kind, c2.kind]).toEqual(['copy', 'copy']);
    expect(cap.held).toBe(3);
    expect(cap.reserve('copy', A)).toBe('sessions');
    // A refusal changes nothing.
    expect(changes).toEqual([1, 2, 3]);
    c1.release();
    expect(cap.reserve('transcode', A)).toBe('transcodes');
    expect(slot(cap.reserve('copy', A)).kind).toBe('copy');
    t.release();
    expect(cap.held).toBe(2);
    expect(slot(cap.reserve('transcode', A)).kind).toBe('transcode');
  });

  test('one address holds at most RELAY_MAX_SESSIONS_PER_ADDRESS slots; others are not affected', () => {
    const cap = createCapacity({ maxSessions: 10, maxTranscodes: 10, maxSessionsPerAddress: 2, maxSessionsPerSubject: MANY });
    const a1 = slot(cap.reserve('copy', A));
    slot(cap.reserve('transcode', A));
    expect(cap.reserve('copy', A)).toBe('sessions-per-address');
    expect(cap.reserve('transcode', A)).toBe('sessions-per-address');
    slot(cap.reserve('copy', B));
    slot(cap.reserve('copy', B));
    expect(cap.reserve('copy', B)).toBe('sessions-per-address');
    expect(cap.held).toBe(4);
    // A released slot is the address's to use again.
    a1.release();
    a1.release();
    slot(cap.reserve('copy', A));
    expect(cap.reserve('copy', A)).toBe('sessions-per-address');
  });

  test('one token subject holds at most RELAY_MAX_SESSIONS_PER_SUBJECT slots, from any address', () => {
    const cap = createCapacity({ maxSessions: 10, maxTranscodes: 10, maxSessionsPerAddress: MANY, maxSessionsPerSubject: 2 });
    const first = slot(cap.reserve('copy', { ...A, subject: 'leaked' }));
    slot(cap.reserve('transcode', { ...B, subject: 'leaked' }));
    expect(cap.reserve('copy', { address: '192.0.2.99', subject: 'leaked' })).toBe('sessions-per-subject');
    // Other subjects, and sessions without one (RELAY_AUTH=none), are not affected.
    slot(cap.reserve('copy', { ...A, subject: 'other' }));
    slot(cap.reserve('copy', A));
    slot(cap.reserve('copy', A));
    expect(cap.held).toBe(5);
    first.release();
    slot(cap.reserve('copy', { ...B, subject: 'leaked' }));
    expect(cap.reserve('copy', { ...B, subject: 'leaked' })).toBe('sessions-per-subject');
  });

  test('release is idempotent: a second call neither frees another slot nor reports a change', () => {
    const changes: number[] = [];
    const limits = { maxSessions: 1, maxTranscodes: 1, maxSessionsPerAddress: MANY, maxSessionsPerSubject: MANY };
    const cap = createCapacity(limits, (held) => changes.push(held));
    const first = slot(cap.reserve('transcode', A));
    first.release();
    first.release();
    expect(cap.held).toBe(0);
    expect(changes).toEqual([1, 0]);
    // Still exactly one slot, and one transcode.
    slot(cap.reserve('transcode', A));
    expect(cap.reserve('copy', B)).toBe('sessions');
    first.release();
    expect(cap.held).toBe(1);
  });

  test('zero limits refuse everything of their kind', () => {
    expect(createCapacity({ maxSessions: 0, maxTranscodes: 4, maxSessionsPerAddress: MANY, maxSessionsPerSubject: MANY }).reserve('copy', A)).toBe('sessions');
    const noTranscodes = createCapacity({ maxSessions: 4, maxTranscodes: 0, maxSessionsPerAddress: MANY, maxSessionsPerSubject: MANY });
    expect(noTranscodes.reserve('transcode', A)).toBe('transcodes');
    expect(typeof noTranscodes.reserve('copy', A)).toBe('object');
  });

  test('after any order of releases the relay is back to full capacity', () => {
    const cap = createCapacity({ maxSessions: 5, maxTranscodes: 2, maxSessionsPerAddress: 3, maxSessionsPerSubject: MANY });
    const held: Slot[] = [];
    const addresses = [A, B, A, B, A];
    for (const [i, kind] of (['transcode', 'copy', 'transcode', 'copy', 'copy'] as const).entries()) held.push(slot(cap.reserve(kind, addresses[i]!)));
    for (const i of [3, 0, 4, 0, 2, 1, 3]) held[i]!.release();
    expect(cap.held).toBe(0);
    const again = [cap.reserve('transcode', A), cap.reserve('transcode', A), cap.reserve('copy', A), cap.reserve('copy', B), cap.reserve('copy', B)];
    expect(again.every((s) => typeof s === 'object')).toBe(true);
    expect(cap.reserve('copy', B)).toBe('sessions');
  });
});
