import { AddressCounts } from './address-counts.ts';

/** What a slot is held for: any session, or a transcode, which also counts against `RELAY_MAX_TRANSCODES`. */
export type SlotKind = 'copy' | 'transcode';

/** Which limit refused a slot: `RELAY_MAX_SESSIONS`, `RELAY_MAX_SESSIONS_PER_ADDRESS` or `RELAY_MAX_TRANSCODES`. */
export type CapacityLimit = 'sessions' | 'sessions-per-address' | 'transcodes';

/**
 * One session's share of the relay's capacity (docs/pipeline.md#backpressure-and-limits): held from
 * the moment its start message passes every check until its FFmpeg has exited and been reaped.
 */
export interface Slot {
  readonly kind: SlotKind;
  /** Gives the slot back. Only the first call counts. */
  release(): void;
}

/**
 * The relay's slots: `RELAY_MAX_SESSIONS` in all, of which at most `RELAY_MAX_TRANSCODES`
 * transcodes, and at most `RELAY_MAX_SESSIONS_PER_ADDRESS` for one client address (so that one
 * client with a token cannot take them all).
 */
export interface Capacity {
  /** Slots held now. */
  readonly held: number;
  /** A slot of this kind for a client at `address`, or the limit that refuses it. */
  reserve(kind: SlotKind, address: string): Slot | CapacityLimit;
}

/** Limits of {@link createCapacity}. */
export interface CapacityLimits {
  readonly maxSessions: number;
  readonly maxTranscodes: number;
  readonly maxSessionsPerAddress: number;
}

/** Creates the slot accounting; `onChange` gets the number of slots held after every reserve and release. */
export function createCapacity(limits: CapacityLimits, onChange: (held: number) => void = () => {}): Capacity {
  let held = 0;
  let transcodes = 0;
  const perAddress = new AddressCounts();
  return {
    get held() {
      return held;
    },
    reserve(kind, address) {
      if (held >= limits.maxSessions) return 'sessions';
      if (perAddress.of(address) >= limits.maxSessionsPerAddress) return 'sessions-per-address';
      if (kind === 'transcode' && transcodes >= limits.maxTranscodes) return 'transcodes';
      held++;
      perAddress.add(address);
      if (kind === 'transcode') transcodes++;
      let released = false;
      const slot: Slot = {
        kind,
        release() {
          if (released) return;
          released = true;
          held--;
          perAddress.remove(address);
          if (kind === 'transcode') transcodes--;
          onChange(held);
        },
      };
      onChange(held);
      return slot;
    },
  };
}
