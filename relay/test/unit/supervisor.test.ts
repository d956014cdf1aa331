import { describe, expect, test } from 'bun:test';
import { createCapacity, type CapacityLimit } from '../../src/capacity.ts';
import { loadConfig } from '../../src/config.ts';
import { OutputFailure, type Attempt, type AttemptEvents, type OutputEvents } from '../../src/outputs/output.ts';
import { OutputSupervisor } from '../../src/outputs/supervisor.ts';

// The one supervisor of every output (outputs/supervisor.ts): a session's FFmpeg, a session's
// encoder and publishers, and each publisher. Its tries here are in-process stand-ins of the
// Attempt interface (the suites with real FFmpeg are reconnect, destinations and faults), so the
// schedule, the watchdogs and the slot accounting are checked to the millisecond on any machine.

const config = loadConfig({
  RELAY_AUTH_SECRET: 'k'.repeat(32),
  RELAY_INGEST_STALL_TIMEOUT_MS: '1000',
  RELAY_LIVE_TIMEOUT_MS: '1000',
  RELAY_RECONNECT_WINDOW_MS: '3000',
  RELAY_MAX_SESSIONS: '1',
});

/** A try that does what the test says: goes live, fails or ends, and holds a real capacity slot meanwhile. */
class FakeAttempt implements Attempt {
  readonly exited: Promise<OutputFailure | undefined>;
  /** Set to make FFmpeg look stuck since then; otherwise it holds no input (as FfmpegProcess says: now). */
  stuckSince?: number;
  bufferedBytes = 0;
  killed = false;
  ended = false;
  private exit!: (failure: OutputFailure | undefined) => void;

  constructor(readonly events: AttemptEvents, release: () => void) {
    this.exited = new Promise<OutputFailure | undefined>((resolve) => (this.exit = resolve)).then((f) => {
      release();
      return f;
    });
  }

  get pid() {
    return 1;
  }

  get lastInputProgressAt() {
    return this.stuckSince ?? Date.now();
  }

  write(): void {}
  end(): void {
    this.ended = true;
  }
  kill(): void {
    this.killed = true;
    this.exit(undefined);
  }
  /** FFmpeg exits by itself. */
  exits(failure: OutputFailure | undefined): void {
    this.exit(failure);
  }
}

function harness(reconnect = true) {
  const capacity = createCapacity({ maxSessions: 1, maxTranscodes: 1, maxSessionsPerAddress: 1, maxSessionsPerSubject: 1 });
  const tries: FakeAttempt[] = [];
  const log: string[] = [];
  const events: OutputEvents = {
    onRestarted: (n) => log.push(`restarted:${n}`),
    onLive: (downMs) => log.push(downMs === undefined ? 'live' : 'live-again'),
    onReconnecting: (f, r) => log.push(`reconnecting:${r.attempt}:${r.retryInMs}:${f.message}`),
    onFailed: (f) => log.push(`failed:${f.code}:${f.message}`),
    onEnded: () => log.push('ended'),
    onProgress: () => {},
    onBackpressure: () => {},
    onQueueChange: () => {},
  };
  const started = OutputSupervisor.start({
    config,
    context: { session: 'test' },
    reconnect,
    open: (attemptEvents): Attempt | CapacityLimit => {
      const slot = capacity.reserve('copy', { address: '192.0.2.1' });
      if (typeof slot === 'string') return slot;
      const attempt = new FakeAttempt(attemptEvents, () => slot.release());
      tries.push(attempt);
      return attempt;
    },
    refusal: (limit) => new OutputFailure('UNAVAILABLE', `refused: ${limit}`, true),
  }, events);
  if (typeof started === 'string') throw new Error(`refused: ${started}`);
  return { supervisor: started, tries, log, capacity };
}

const dropped = new OutputFailure('INGEST_FAILED', 'ingest refused or dropped the connection', true);
const untrusted = new OutputFailure('INGEST_FAILED', 'the ingest\'s TLS certificate could not be verified', false);

describe('output supervisor', () => {
  test('a failure after live: reconnecting, a new try with its own slot, live again; one slot held throughout', async () => {
    const { supervisor, tries, log, capacity } = harness();
    tries[0]!.events.onLive();
    tries[0]!.exits(dropped);
    await Bun.sleep(20);
    expect(log).toEqual(['live', 'reconnecting:1:500:ingest refused or dropped the connection']);
    expect(capacity.held).toBe(0);
    await Bun.sleep(600);
    expect(log.at(-1)).toBe('restarted:1');
    expect(capacity.held).toBe(1);
    tries[1]!.events.onLive();
    expect(log.at(-1)).toBe('live-again');
    expect(supervisor.reconnects).toBe(1);
    supervisor.kill();
    await supervisor.done;
    expect(capacity.held).toBe(0);
  });

  test('no retry before the first live, nor without reconnect, nor for a failure that cannot pass', async () => {
    for (const [reconnect, live, failure] of [[true, false, dropped], [false, true, dropped], [true, true, untrusted]] as const) {
      const { supervisor, tries, log } = harness(reconnect);
      if (live) tries[0]!.events.onLive();
      tries[0]!.exits(failure);
      await supervisor.done;
      expect(log.at(-1)).toBe(`failed:INGEST_FAILED:${failure.message}`);
      expect(tries).toHaveLength(1);
    }
  });

  test('a try that takes no input for the stall timeout is killed and retried', async () => {
    const { supervisor, tries, log } = harness();
    tries[0]!.events.onLive();
    tries[0]!.stuckSince = Date.now() - 1500;
    await Bun.sleep(300);
    expect(tries[0]!.killed).toBe(true);
    expect(log.at(-1)).toBe('reconnecting:1:500:ingest stalled for 1000 ms');
    supervisor.kill();
  });

  test('a try not live within the live timeout fails; once the window is over the outage ends with the failure that began it', async () => {
    const { supervisor, tries, log } = harness();
    tries[0]!.events.onLive();
    tries[0]!.exits(dropped);
    // The try at 0.5 s is not live by 1.5 s; the next, 1 s later, is cut short when the window
    // (3 s from the first failure) runs out.
    const end = Date.now() + 6000;
    while (!log.some((l) => l.startsWith('failed')) && Date.now() < end) await Bun.sleep(50);
    expect(log).toEqual([
      'live',
      'reconnecting:1:500:ingest refused or dropped the connection',
      'restarted:1',
      'reconnecting:2:1000:stream did not go live within 1000 ms',
      'restarted:2',
      'failed:INGEST_FAILED:stream did not go live within 1000 ms',
    ]);
    await supervisor.done;
    // The first exited by itself; the supervisor killed the two that never went live.
    expect(tries.map((t) => t.killed)).toEqual([false, true, true]);
  });

  test('a full relay counts as a failed try', async () => {
    const { supervisor, tries, log, capacity } = harness();
    tries[0]!.events.onLive();
    tries[0]!.exits(dropped);
    await Bun.sleep(20);
    const other = capacity.reserve('copy', { address: '192.0.2.9' });
    await Bun.sleep(600);
    expect(log.at(-1)).toBe('reconnecting:2:1000:refused: sessions');
    if (typeof other !== 'string') other.release();
    await Bun.sleep(1100);
    expect(log.at(-1)).toBe('restarted:2');
    supervisor.kill();
    await supervisor.done;
    expect(capacity.held).toBe(0);
  });

  test('end: a clean exit is ended; between tries there is nothing to flush', async () => {
    const a = harness();
    a.supervisor.end();
    expect(a.tries[0]!.ended).toBe(true);
    a.tries[0]!.exits(undefined);
    await a.supervisor.done;
    expect(a.log).toEqual(['ended']);

    const b = harness();
    b.tries[0]!.events.onLive();
    b.tries[0]!.exits(dropped);
    await Bun.sleep(20);
    b.supervisor.end();
    await b.supervisor.done;
    expect(b.log.at(-1)).toBe('ended');
    expect(b.tries).toHaveLength(1);
  });

  test('after kill nothing is reported, and done waits for the try to be reaped', async () => {
    const { supervisor, tries, log, capacity } = harness();
    supervisor.kill();
    tries[0]!.events.onLive();
    await supervisor.done;
    expect(log).toEqual([]);
    expect(capacity.held).toBe(0);
  });
});
