/** What a slot is held for: any session, or a transcode, which also counts against `RELAY_MAX_TRANSCODES`. */
export type SlotKind = 'copy' | 'transcode';

/**
 * One session's share of the relay's capacity (docs/pipeline.md#backpressure-and-limits): held from
 * the moment its start message passes every check until its FFmpeg has exited and been reaped.
 */
export interface Slot {
  readonly kind: SlotKind;
  /** Gives the slot back. Only the first call counts. */
  release(): void;
}

/** The relay's slots: `RELAY_MAX_SESSIONS` in all, of which at most `RELAY_MAX_TRANSCODES` transcodes. */
export interface Capacity {
  /** Slots held now. */
  readonly held: number;
  /** A slot of this kind, or `undefined` when the relay is at capacity for it. */
  reserve(kind: SlotKind): Slot | undefined;
}

/** Limits of {@link createCapacity}. */
export interface CapacityLimits {
  readonly maxSessions: number;
  readonly maxTranscodes: number;
}

/** Creates the slot accounting; `onChange` gets the number of slots held after every reserve and release. */
export function createCapacity(limits: CapacityLimits, onChange: (held: number) => void = () => {}): Capacity {
  let held = 0;
  let transcodes = 0;
  return {
    get held() {
      return held;
    },
    reserve(kind) {
      if (held >= limits.maxSessions) return undefined;
      if (kind === 'transcode' && transcodes >= limits.maxTranscodes) return undefined;
      held++;
      if (kind === 'transcode') transcodes++;
      let released = false;
      const slot: Slot = {
        kind,
        release() {
          if (released) return;
          released = true;
          held--;
          if (kind === 'transcode') transcodes--;
          onChange(held);
        },
      };
      onChange(held);
      return slot;
    },
  };
}
