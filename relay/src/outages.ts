// Between tries at an output after a failure: 0.5 s, 1 s, 2 s, then every 4 s until the window ends.
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 4000;

/** The next try at an output. */
export interface Retry {
  /** 1 for the first try of an outage. */
  readonly attempt: number;
  readonly retryInMs: number;
}

/**
 * One output's outages and tries at reconnecting (docs/protocol.md#reconnecting): the backoff, the
 * window (RELAY_RECONNECT_WINDOW_MS, from the start of an outage) and the time spent down. A
 * session's output and each destination of a session with several keep one each.
 */
export class Outages {
  private since?: number;
  private downBefore = 0;
  private tries = 0;
  private count = 0;

  constructor(private readonly windowMs: number) {}

  /** Outages so far, the current one included. */
  get reconnects(): number {
    return this.count;
  }

  /** Tries in the current outage. */
  get attempt(): number {
    return this.tries;
  }

  /** When the current outage's window closes; undefined while the output is up. */
  get windowEndsAt(): number | undefined {
    return this.since === undefined ? undefined : this.since + this.windowMs;
  }

  /** Milliseconds down: every outage, the current one included. */
  downMs(now: number): number {
    return this.downBefore + (this.since === undefined ? 0 : now - this.since);
  }

  /** The output failed at `now` (an outage begins unless one is on): the next try, or undefined once the window has run out. */
  failed(now: number): Retry | undefined {
    if (this.since === undefined) {
      this.since = now;
      this.count++;
    }
    const left = this.since + this.windowMs - now;
    if (left <= 0) return undefined;
    this.tries++;
    return { attempt: this.tries, retryInMs: Math.min(RETRY_FIRST_MS * 2 ** (this.tries - 1), RETRY_MAX_MS, left) };
  }

  /** The output is live again: how long the outage lasted, or undefined when there was none. */
  recovered(now: number): number | undefined {
    if (this.since === undefined) return undefined;
    const ms = now - this.since;
    this.downBefore += ms;
    this.since = undefined;
    this.tries = 0;
    return ms;
  }
}
