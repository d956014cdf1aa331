/**
 * How one connection leg ends, and what the relay's close means for the broadcast: a relay that
 * is full or gone is worth replacing by the next one, any other error would recur there
 * (docs/protocol.md#close-codes).
 */

import type { BroadcastErrorCode } from './broadcast-types.js';
import { CLOSE_CODES, errorCodeOfClose, type ErrorMessage } from './protocol.js';

/** How a leg ended: stopped by the user, restarting at a lower bitrate, or failed. */
export type LegOutcome =
  | { readonly kind: 'stopped' }
  | { readonly kind: 'reduce' }
  | {
    readonly kind: 'failed';
    readonly code: BroadcastErrorCode;
    readonly message: string;
    readonly closeCode?: number;
    /** True when the next relay may succeed where this one failed. */
    readonly failover: boolean;
  };

/** The relay's `error` frame, kept until the close that follows it. */
export type ErrorFrame = Pick<ErrorMessage, 'code' | 'message'>;

/**
 * The outcome of a close nobody on this side asked for: 4013 and silent drops fail over, every
 * other error is final. `opened` tells a relay that could not be reached from one that dropped.
 */
export function outcomeOfClose(close: Pick<CloseEvent, 'code' | 'reason'>, frame: ErrorFrame | undefined, opened: boolean): LegOutcome {
  if (close.code === CLOSE_CODES.UNAVAILABLE || frame?.code === 'UNAVAILABLE') {
    return { kind: 'failed', code: 'UNAVAILABLE', message: frame?.message ?? 'The relay is at capacity or draining.', closeCode: close.code, failover: true };
  }
  const code = frame?.code ?? errorCodeOfClose(close.code);
  if (code) {
    return { kind: 'failed', code, message: frame?.message || close.reason || code, closeCode: close.code, failover: false };
  }
  if (!opened) {
    return { kind: 'failed', code: 'CONNECTION_FAILED', message: 'Could not connect to the relay.', closeCode: close.code, failover: true };
  }
  // A 1000 nobody asked for (e.g. a relay shutting down) or an abnormal 1006: keep broadcasting elsewhere.
  return { kind: 'failed', code: 'CONNECTION_LOST', message: 'The connection to the relay dropped.', closeCode: close.code, failover: true };
}
