import { describe, expect, test } from 'bun:test';
import { Outages } from '../../src/outages.ts';

// The reconnect schedule (docs/protocol.md#reconnecting): 0.5 s, 1 s, 2 s, then every 4 s, never
// past the window, which runs from the start of an outage; time down adds up over outages.

describe('outages', () => {
  test('tries back off to every 4 s and never wait past the window; then the window is over', () => {
    const o = new Outages(10_000);
    const delays: number[] = [];
    let now = 1000;
    for (let r = o.failed(now); r; r = o.failed(now)) {
      expect(r.attempt).toBe(delays.length + 1);
      delays.push(r.retryInMs);
      now += r.retryInMs;
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 2500]);
    expect(now).toBe(11_000);
    expect(o.reconnects).toBe(1);
    expect(o.downMs(now)).toBe(10_000);
  });

  test('live again ends the outage: its length, tries from 1 again, and the down time adds up', () => {
    const o = new Outages(30_000);
    expect(o.recovered(0)).toBeUndefined();
    expect(o.windowEndsAt).toBeUndefined();
    o.failed(1000);
    expect(o.windowEndsAt).toBe(31_000);
    o.failed(1500);
    expect(o.recovered(2250)).toBe(1250);
    expect(o.windowEndsAt).toBeUndefined();
    expect(o.failed(5000)).toEqual({ attempt: 1, retryInMs: 500 });
    expect(o.reconnects).toBe(2);
    expect(o.downMs(5400)).toBe(1250 + 400);
  });

  test('a window of 0 allows no try', () => {
    expect(new Outages(0).failed(1)).toBeUndefined();
  });
});
