import type { TokenVerifier } from './auth.ts';
import type { BufferBudget } from './buffer-budget.ts';
import type { CapacityLimit, Slot, SlotHolder, SlotKind } from './capacity.ts';
import type { RelayConfig } from './config.ts';
import type { DelayTrace } from './delay-trace.ts';
import type { PendingLimit, PendingTicket } from './pending.ts';
import type { StartMessage } from './protocol.ts';
import type { Session } from './session.ts';

/** Per-socket data attached at upgrade time. */
export interface SocketData {
  session?: Session;
  /** Set by the compatibility route: the start message is implied by the URL. */
  implicitStart?: StartMessage;
}

/** What a session needs from the server that owns it. */
export interface SessionHost {
  readonly config: RelayConfig;
  readonly verifyToken: TokenVerifier;
  /** The relay-wide bound on media held for FFmpeg (RELAY_MAX_TOTAL_BUFFERED_BYTES). */
  readonly buffers: BufferBudget;
  /** Set only with `RELAY_DELAY_TRACE_FILE`. */
  readonly delayTrace?: DelayTrace;
  isDraining(): boolean;
  /** A place among the connections waiting to start, or the limit that refuses it. */
  admitPending(address: string): PendingTicket | PendingLimit;
  /** A capacity slot, synchronously, or the limit that refuses it. */
  reserve(kind: SlotKind, holder: SlotHolder): Slot | CapacityLimit;
}
