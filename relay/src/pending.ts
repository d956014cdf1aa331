import { HolderCounts } from './holder-counts.ts';

/**
 * A connection's place among those waiting to start (docs/pipeline.md#backpressure-and-limits): from
 * the moment its socket opens until its start message has passed every check and it holds a slot,
 * or until it ends.
 */
export interface PendingTicket {
  /** Gives the place back. Only the first call counts. */
  release(): void;
}

/** Which limit refused a connection: `RELAY_MAX_PENDING_CONNECTIONS` or `RELAY_MAX_PENDING_PER_ADDRESS`. */
export type PendingLimit = 'pending' | 'pending-per-address';

/** Limits of {@link createPendingConnections}. */
export interface PendingLimits {
  readonly maxPendingConnections: number;
  readonly maxPendingPerAddress: number;
}

/** The connections waiting to start. */
export interface PendingConnections {
  /** Connections waiting now. */
  readonly count: number;
  /** A place for a new connection from `address`, or the limit that refuses it. */
  admit(address: string): PendingTicket | PendingLimit;
}

/**
 * Counts connections that have not started a session yet, in all and per client address. Each holds
 * a socket, a timer and up to one frame until `RELAY_START_TIMEOUT_MS`; without a bound, one client
 * could open them until the process runs out of memory or descriptors.
 */
export function createPendingConnections(limits: PendingLimits): PendingConnections {
  let count = 0;
  const perAddress = new HolderCounts();
  return {
    get count() {
      return count;
    },
    admit(address) {
      if (count >= limits.maxPendingConnections) return 'pending';
      if (perAddress.of(address) >= limits.maxPendingPerAddress) return 'pending-per-address';
      count++;
      perAddress.add(address);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          count--;
          perAddress.remove(address);
        },
      };
    },
  };
}
