import type { CapacityLimit } from './capacity.ts';
import type { RelayConfig } from './config.ts';
import type { PendingLimit } from './pending.ts';
import { SessionError } from './protocol.ts';

/** The 4013 for a limit, saying which one (docs/protocol.md#close-codes). */
export function limitRefusal(limit: CapacityLimit | PendingLimit, cfg: RelayConfig): SessionError {
  const message = {
    'sessions': 'relay is at capacity; try another relay',
    'transcodes': 'relay is at capacity; try another relay',
    'sessions-per-address': `too many sessions from this address (RELAY_MAX_SESSIONS_PER_ADDRESS: ${cfg.maxSessionsPerAddress}); try another relay`,
    'sessions-per-subject': `too many sessions for this token's subject (RELAY_MAX_SESSIONS_PER_SUBJECT: ${cfg.maxSessionsPerSubject})`,
    'pending': `too many connections waiting to start (RELAY_MAX_PENDING_CONNECTIONS: ${cfg.maxPendingConnections}); try another relay`,
    'pending-per-address': `too many connections waiting to start from this address (RELAY_MAX_PENDING_PER_ADDRESS: ${cfg.maxPendingPerAddress}); try another relay`,
  }[limit];
  return new SessionError('UNAVAILABLE', message);
}
