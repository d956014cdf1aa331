/**
 * Watches `WebSocket.bufferedAmount`. MediaRecorder keeps producing at its bitrate whatever the
 * uplink does, so when the network is slower than the encoder the bytes pile up in the browser.
 * This turns samples into a verdict before that memory grows: warn early, ask for a lower bitrate
 * when the backlog persists, give up when even the lowest bitrate cannot keep up.
 */

/** Thresholds, in bytes and milliseconds. */
export interface BufferPolicy {
  /** A backlog above this is reported once as a warning. */
  readonly warnBytes: number;
  /** A backlog above this for `reduceAfterMs` asks for a lower bitrate. */
  readonly reduceBytes: number;
  /** How long the backlog must stay above `reduceBytes` before reducing. */
  readonly reduceAfterMs: number;
  /** A backlog above this ends the broadcast: memory must stay bounded. */
  readonly abortBytes: number;
  /**
   * A recorder that drops frames (WebCodecs) never reaches `abortBytes`; it gives up after
   * dropping for this long in one congestion instead.
   */
  readonly abortAfterMs: number;
}

/** What the caller should do after a sample. */
export type BufferVerdict = 'ok' | 'warn' | 'reduce' | 'abort';

/**
 * Thresholds scaled to the bitrate: warn at ~1 s of media queued, reduce at ~3 s held for 2 s,
 * abort at ~20 s (never below 16 MiB, so short bursts on fast links never trip it).
 */
export function defaultBufferPolicy(totalBitsPerSecond: number): BufferPolicy {
  const bytesPerSecond = Math.max(totalBitsPerSecond, 250_000) / 8;
  return {
    warnBytes: Math.max(256 * 1024, bytesPerSecond),
    reduceBytes: Math.max(768 * 1024, 3 * bytesPerSecond),
    reduceAfterMs: 2000,
    abortBytes: Math.max(16 * 1024 * 1024, 20 * bytesPerSecond),
    abortAfterMs: 20_000,
  };
}

/** Edge-triggered watcher: each verdict other than 'ok' is returned once per congestion episode. */
export class BufferWatch {
  private warned = false;
  private aboveReduceSince: number | undefined;
  private reduced = false;

  /** @param now injectable clock (ms) for tests. */
  constructor(
    private readonly policy: BufferPolicy,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Feeds one `bufferedAmount` sample and returns what to do now. */
  sample(bufferedAmount: number): BufferVerdict {
    const { warnBytes, reduceBytes, reduceAfterMs, abortBytes } = this.policy;
    if (bufferedAmount >= abortBytes) return 'abort';
    if (bufferedAmount < warnBytes / 2) {
      // The backlog drained: a later episode deserves a fresh warning.
      this.warned = false;
      this.reduced = false;
      this.aboveReduceSince = undefined;
      return 'ok';
    }
    if (bufferedAmount >= reduceBytes) {
      const t = this.now();
      this.aboveReduceSince ??= t;
      if (!this.reduced && t - this.aboveReduceSince >= reduceAfterMs) {
        this.reduced = true;
        return 'reduce';
      }
    } else {
      this.aboveReduceSince = undefined;
    }
    if (bufferedAmount >= warnBytes && !this.warned) {
      this.warned = true;
      return 'warn';
    }
    return 'ok';
  }
}

/** What a {@link DropGate} sample asks of the leg. */
export interface DropVerdict {
  /** Skip frames before encoding from now on (false: encode them again). */
  readonly drop: boolean;
  /** Frames were dropped for `reduceAfterMs` in this congestion: ask for a lower bitrate (once). */
  readonly reduce: boolean;
  /** Frames were dropped for `abortAfterMs` in this congestion: the upload is not keeping up at all. */
  readonly abort: boolean;
}

/**
 * For a recorder that can skip frames before encoding them (WebCodecs): drop from `warnBytes` of
 * backlog until it is back under half of that. Dropping keeps the backlog near `warnBytes`, so it
 * never reaches `reduceBytes`; the time spent dropping says instead that the upload is slower than
 * the bitrate, and a very long time that it is hardly moving. A congestion ends when the backlog is
 * nearly gone (under a quarter of `warnBytes`).
 */
export class DropGate {
  private dropping = false;
  private lastSample: number | undefined;
  private droppedMs = 0;
  private reduced = false;

  /** @param now injectable clock (ms) for tests. */
  constructor(
    private readonly policy: BufferPolicy,
    private readonly now: () => number = () => performance.now(),
  ) {}

  sample(bufferedAmount: number): DropVerdict {
    const t = this.now();
    if (this.dropping && this.lastSample !== undefined) this.droppedMs += t - this.lastSample;
    this.lastSample = t;
    const { warnBytes, reduceAfterMs, abortAfterMs } = this.policy;
    if (bufferedAmount >= warnBytes) this.dropping = true;
    else if (bufferedAmount < warnBytes / 2) this.dropping = false;
    if (bufferedAmount < warnBytes / 4) {
      this.droppedMs = 0;
      this.reduced = false;
    }
    const reduce = !this.reduced && this.droppedMs >= reduceAfterMs;
    if (reduce) this.reduced = true;
    return { drop: this.dropping, reduce, abort: this.droppedMs >= abortAfterMs };
  }
}
