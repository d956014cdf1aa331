import { HolderCounts } from './holder-counts.ts';

/** What a slot is held for: any session, or a transcode, which also counts against `RELAY_MAX_TRANSCODES`. */
export type SlotKind = 'copy' | 'transcode';

/**
 * Which limit refused a slot: `RELAY_MAX_SESSIONS`, `RELAY_MAX_SESSIONS_PER_ADDRESS`,
 * `RELAY_MAX_SESSIONS_PER_SUBJECT` or `RELAY_MAX_TRANSCODES`.
 */
export type CapacityLimit = 'sessions' | 'sessions-per-address' | 'sessions-per-subject' | 'transcodes';

/**
 * One session's share of the relay's capacity (docs/pipeline.md#backpressure-and-limits): held from
 * the moment its start message passes every check until its FFmpeg has exited and been reaped.
 */
export interface Slot {
  readonly kind: SlotKind;
  /** Gives the slot back. Only the first call counts. */
  release(): void;
}

/** Who asks for a slot: the client's address, and the identity its token grants (none without auth). */
export interface SlotHolder {
  readonly address: string;
  /** See `tokenSubject` in auth.ts; undefined with `RELAY_AUTH=none`. */
  readonly subject?: string;
}

/**
 * The relay's slots: `RELAY_MAX_SESSIONS` in all, of which at most `RELAY_MAX_TRANSCODES`
 * transcodes, and at most `RELAY_MAX_SESSIONS_PER_ADDRESS` for one client address and
 * `RELAY_MAX_SESSIONS_PER_SUBJECT` for one token subject (so that one client, or one leaked
 * token, cannot take them all).
 */
export interface Capacity {
  /** Slots held now. */
  readonly held: number;
  /** A slot of this kind for `holder`, or the limit that refuses it. */
  reserve(kind: SlotKind, holder: SlotHolder): Slot | CapacityLimit;
}

/** Limits of {@link createCapacity}. */
export interface CapacityLimits {
  readonly maxSessions: number;
  readonly maxTranscodes: number;
  readonly maxSessionsPerAddress: number;
  readonly maxSessionsPerSubject: number;
}

/** Creates the slot accounting; `onChange` gets the number of slots held after every reserve and release. */
export function createCapacity(limits: CapacityLimits, onChange: (held: number) => void = () => {}): Capacity {
  let held = 0;
  let transcodes = 0;
  const perAddress = new HolderCounts();
  const perSubject = new HolderCounts();
  return {
    get held() {
      return held;
    },
    reserve(kind, { address, subject }) {
      if (held >= limits.maxSessions) return 'sessions';
      if (perAddress.of(address) >= limits.maxSessionsPerAddress) return 'sessions-per-address';
      if (subject !== undefined && perSubject.of(subject) >= limits.maxSessionsPerSubject) return 'sessions-per-subject';
      if (kind === 'transcode' && transcodes >= limits.maxTranscodes) return 'transcodes';
      held++;
      perAddress.add(address);
      if (subject !== undefined) perSubject.add(subject);
      if (kind === 'transcode') transcodes++;
      let released = false;
      const slot: Slot = {
        kind,
        release() {
          if (released) return;
          released = true;
          held--;
          perAddress.remove(address);
          if (subject !== undefined) perSubject.remove(subject);
          if (kind === 'transcode') transcodes--;
          onChange(held);
        },
      };
      onChange(held);
      return slot;
    },
  };
}
