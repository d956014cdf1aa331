import { describe, expect, test } from 'bun:test';
import { createPendingConnections, type PendingLimit, type PendingTicket } from '../../src/pending.ts';

// Connections waiting to start (docs/pipeline.md#backpressure-and-limits): RELAY_MAX_PENDING_CONNECTIONS
// in all and RELAY_MAX_PENDING_PER_ADDRESS from one address; a ticket's release counts once.

const A = '203.0.113.7';
const B = '198.51.100.23';

function ticket(t: PendingTicket | PendingLimit): PendingTicket {
  if (typeof t === 'string') throw new Error(`refused by ${t}`);
  return t;
}

describe('pending connections', () => {
  test('the total and the per-address limit each refuse, naming themselves', () => {
    const pending = createPendingConnections({ maxPendingConnections: 3, maxPendingPerAddress: 2 });
    const a1 = ticket(pending.admit(A));
    ticket(pending.admit(A));
    expect(pending.admit(A)).toBe('pending-per-address');
    ticket(pending.admit(B));
    expect(pending.count).toBe(3);
    expect(pending.admit(B)).toBe('pending');
    a1.release();
    a1.release(); // counts once
    expect(pending.count).toBe(2);
    ticket(pending.admit(B));
    expect(pending.admit(A)).toBe('pending');
  });

  test('every place goes back, in any order', () => {
    const pending = createPendingConnections({ maxPendingConnections: 4, maxPendingPerAddress: 4 });
    const tickets = [A, B, A, A].map((a) => ticket(pending.admit(a)));
    for (const i of [2, 0, 3, 2, 1]) tickets[i]!.release();
    expect(pending.count).toBe(0);
    for (let i = 0; i < 4; i++) ticket(pending.admit(A));
    expect(pending.admit(B)).toBe('pending');
  });
});
