import type { CapacityLimit } from '../capacity.ts';
import type { RelayConfig } from '../config.ts';
import { Outages } from '../outages.ts';
import { log, metric } from '../telemetry.ts';
import { OutputFailure, SPAWN_FAILED, WATCHDOG_INTERVAL_MS, type Attempt, type AttemptEvents, type Output, type OutputEvents } from './output.ts';

/** Options of {@link OutputSupervisor}. */
export interface SupervisorOptions {
  readonly config: RelayConfig;
  /** Fields of its log lines, e.g. the session and the destination's ingest. */
  readonly context: Readonly<Record<string, string>>;
  /** Whether a retryable failure after the stream has been live is tried again within RELAY_RECONNECT_WINDOW_MS. */
  readonly reconnect: boolean;
  /**
   * Starts a try, with the capacity slots it needs.
   * @returns the limit that refused a slot (nothing was started)
   * @throws Error when FFmpeg cannot be spawned (nothing is held)
   */
  open(events: AttemptEvents): Attempt | CapacityLimit;
  /** The failure a refused slot is reported as: a full relay counts as a failed try. */
  refusal(limit: CapacityLimit): OutputFailure;
}

/**
 * An output from its first try to its last: the output of a session (one FFmpeg, or an encoder and
 * its publishers) and each destination's publisher. It owns the watchdogs (the ingest stalling for
 * RELAY_INGEST_STALL_TIMEOUT_MS, a try not live within RELAY_LIVE_TIMEOUT_MS) and the reconnect
 * schedule (outages.ts, docs/protocol.md#reconnecting); each try owns its FFmpeg processes, their
 * slots and the bound on its flush.
 */
export class OutputSupervisor implements Output {
  /**
   * Starts the first try.
   * @returns the supervisor, or the limit that refused the first try's slots
   * @throws Error when FFmpeg cannot be spawned (nothing is held)
   */
  static start(opts: SupervisorOptions, events: OutputEvents): OutputSupervisor | CapacityLimit {
    const supervisor = new OutputSupervisor(opts, events);
    const refused = supervisor.startTry();
    if (refused) return refused;
    supervisor.watchdog = setInterval(() => supervisor.check(), WATCHDOG_INTERVAL_MS);
    return supervisor;
  }

  readonly done: Promise<void>;
  private attempt?: Attempt;
  /** Tries not yet reaped: the current one and any killed before it. */
  private running = 0;
  private triedAt = 0;
  private live = false;
  private wasLive = false;
  private ending = false;
  /** No try will follow and no event either (ended, given up, or killed). */
  private over = false;
  private readonly outages: Outages;
  /** The failure that began the current outage's latest try: the outage ends with it if the window runs out. */
  private lastFailure?: OutputFailure;
  private retryTimer?: Timer;
  private watchdog?: Timer;
  private resolveDone!: () => void;

  private constructor(private readonly opts: SupervisorOptions, private readonly events: OutputEvents) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.outages = new Outages(opts.config.reconnectWindowMs);
  }

  get pid(): number | undefined {
    return this.attempt?.pid;
  }

  get bufferedBytes(): number {
    return this.attempt?.bufferedBytes ?? 0;
  }

  get destinations() {
    return this.attempt?.destinations;
  }

  get reconnects(): number {
    return this.outages.reconnects;
  }

  downMs(now: number): number {
    return this.outages.downMs(now);
  }

  /** Hands the current try one chunk; dropped between tries. */
  write(chunk: Uint8Array): void {
    if (!this.over) this.attempt?.write(chunk);
  }

  end(): void {
    if (this.ending || this.over) return;
    this.ending = true;
    clearTimeout(this.retryTimer);
    const attempt = this.attempt;
    if (!attempt) {
      this.finish();
      this.events.onEnded();
      return;
    }
    // The try bounds its own flush: its exit says how it ended.
    attempt.end();
  }

  kill(): void {
    if (this.over) return;
    // Killed while still current, so its dropped queue is reported (0).
    this.attempt?.kill();
    this.finish();
  }

  /** Ends the current try with a failure of the caller's finding (a destination's queue over its bound). */
  failTry(failure: OutputFailure): void {
    if (this.over) return;
    // Retried or not, this try is done: killed now, its slots back once it is reaped.
    this.attempt?.kill();
    this.attempt = undefined;
    const next = this.opts.reconnect && this.wasLive && failure.retryable && !this.ending ? this.outages.failed(Date.now()) : undefined;
    if (!next) {
      this.giveUp(failure);
      return;
    }
    this.live = false;
    this.lastFailure = failure;
    if (next.attempt === 1) metric('Reconnects', 1, 'Count');
    this.events.onReconnecting(failure, next);
    this.retryTimer = setTimeout(() => this.retry(), next.retryInMs);
  }

  private retry(): void {
    if (this.over) return;
    let refused: CapacityLimit | undefined;
    try {
      refused = this.startTry();
    } catch (e) {
      log('error', 'could not restart FFmpeg', { ...this.opts.context, error: String(e) });
      this.giveUp(new OutputFailure('INTERNAL', SPAWN_FAILED, false));
      return;
    }
    // The failed try's slots went back when it was reaped; the relay may have filled up since.
    if (refused) this.failTry(this.opts.refusal(refused));
    else this.events.onRestarted(this.outages.attempt);
  }

  /** Opens a try, unless the relay is full. @throws Error when FFmpeg cannot be spawned */
  private startTry(): CapacityLimit | undefined {
    let attempt: Attempt | undefined;
    const current = (): boolean => attempt !== undefined && attempt === this.attempt && !this.over;
    const opened = this.opts.open({
      onLive: () => current() && this.onLive(),
      onProgress: (p) => current() && this.events.onProgress(p),
      onBackpressure: (backedUp) => current() && this.events.onBackpressure(backedUp),
      // A killed try drops its queue inside kill(), while it is still the current one: 0 is reported.
      onQueueChange: (bytes) => current() && this.events.onQueueChange(bytes),
    });
    if (typeof opened === 'string') return opened;
    attempt = opened;
    this.attempt = opened;
    this.running++;
    this.triedAt = Date.now();
    void opened.exited.then((failure) => {
      this.running--;
      this.onExit(opened, failure);
    });
    return undefined;
  }

  private onLive(): void {
    this.live = true;
    this.wasLive = true;
    this.lastFailure = undefined;
    this.events.onLive(this.outages.recovered(Date.now()));
  }

  private onExit(attempt: Attempt, failure: OutputFailure | undefined): void {
    if (attempt === this.attempt && !this.over) {
      this.attempt = undefined;
      if (failure) {
        this.failTry(failure);
      } else {
        this.finish();
        this.events.onEnded();
      }
    }
    this.settle();
  }

  private check(): void {
    const attempt = this.attempt;
    if (!attempt || this.over) return;
    const cfg = this.opts.config;
    const now = Date.now();
    if (now - attempt.lastInputProgressAt > cfg.ingestStallTimeoutMs) {
      this.failTry(new OutputFailure('INGEST_FAILED', `ingest stalled for ${cfg.ingestStallTimeoutMs} ms`, true));
      return;
    }
    if (this.live || this.ending) return;
    // A try gets no longer than what is left of the window. Cut short, it has not failed: the
    // outage ends with the failure that led to it.
    const windowEndsAt = this.outages.windowEndsAt;
    if (windowEndsAt !== undefined && now > windowEndsAt && this.lastFailure) {
      this.giveUp(this.lastFailure);
    } else if (now > this.triedAt + cfg.liveTimeoutMs) {
      this.failTry(new OutputFailure('INGEST_FAILED', `stream did not go live within ${cfg.liveTimeoutMs} ms`, true));
    }
  }

  private giveUp(failure: OutputFailure): void {
    this.attempt?.kill();
    this.finish();
    this.events.onFailed(failure);
  }

  /** No try follows: timers stop; `done` resolves once the last try is reaped. */
  private finish(): void {
    this.over = true;
    clearInterval(this.watchdog);
    clearTimeout(this.retryTimer);
    this.settle();
  }

  private settle(): void {
    if (this.over && this.running === 0) this.resolveDone();
  }
}
