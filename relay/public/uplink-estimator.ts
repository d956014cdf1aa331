/**
 * What the uplink carries, measured from the WebSocket's drain rate: over a window, the bytes that
 * left the socket are the bytes handed to `send()` minus the growth of `bufferedAmount`. That is
 * the link's rate only while the socket had a backlog the whole window (the link was the
 * bottleneck); a socket that emptied only shows what the recorder produced, a lower bound.
 *
 * Pure logic: fed samples with their own clock, so tests drive it with synthetic drains.
 */

/** One look at the socket. */
export interface DrainSample {
  /** When (ms, any monotonic clock). */
  readonly at: number;
  /** `WebSocket.bufferedAmount` at that moment. */
  readonly bufferedAmount: number;
  /** All media bytes handed to `send()` so far (a running total). */
  readonly sentBytes: number;
}

/**
 * A window this short holds a handful of chunks (one per frame on the WebCodecs path), enough to
 * average out a key frame; longer would delay the first reaction to a slower link.
 */
export const WINDOW_MS = 500;
/** A backlog under this (bytes) counts as an empty socket: the link is not what limits the rate. */
const IDLE_BYTES = 1024;
/** Weight of the newest window in the smoothed rate: reacts within two or three windows. */
const SMOOTHING = 0.5;

export class UplinkEstimator {
  private windowStart: DrainSample | undefined;
  /** The smallest backlog seen in the current window. */
  private windowMin = Number.POSITIVE_INFINITY;
  private estimate: number | undefined;
  private limited = false;

  /** Feeds one sample; returns true when it closed a window (the estimate may have changed). */
  sample(sample: DrainSample): boolean {
    this.windowMin = Math.min(this.windowMin, sample.bufferedAmount);
    const start = this.windowStart;
    if (!start) {
      this.windowStart = sample;
      this.windowMin = sample.bufferedAmount;
      return false;
    }
    const elapsed = sample.at - start.at;
    if (elapsed < WINDOW_MS) return false;
    const drained = sample.sentBytes - start.sentBytes - (sample.bufferedAmount - start.bufferedAmount);
    // Never negative: a stand-in socket (or a browser's accounting) may grow faster than what was sent.
    const rate = (Math.max(0, drained) * 8 * 1000) / elapsed;
    this.limited = this.windowMin > IDLE_BYTES;
    if (this.limited) {
      this.estimate = this.estimate === undefined ? rate : SMOOTHING * rate + (1 - SMOOTHING) * this.estimate;
    } else if (this.estimate !== undefined && rate > this.estimate) {
      // The link carried all that was sent: it is at least that fast, whatever it was before.
      this.estimate = rate;
    }
    this.windowStart = sample;
    this.windowMin = sample.bufferedAmount;
    return true;
  }

  /**
   * The uplink in bits per second: measured while the socket had a backlog, raised since to what a
   * clear link carried. Undefined until the link was once the bottleneck.
   */
  get bitsPerSecond(): number | undefined {
    return this.estimate;
  }

  /** True when the last window had a backlog throughout: the link, not the recorder, set its rate. */
  get linkLimited(): boolean {
    return this.limited;
  }
}

/** The longest run of chunks remembered: 60 s of one chunk per frame at 30 fps. */
const MAX_MARKS = 1800;

/**
 * How much media waits in the socket, in ms of recording: each byte counts at the bitrate it was
 * recorded at, so lowering the bitrate does not make the bytes already queued look longer.
 */
export class QueuedMedia {
  /** Where each run of bytes handed to the socket starts (a running offset), and its bitrate. */
  private readonly marks: { readonly offset: number; readonly bitsPerSecond: number }[] = [];
  private lastSent = 0;

  /**
   * Feeds a look at the socket; `bitsPerSecond` is the rate the bytes handed over since the last
   * look were recorded at. Returns the ms of media still queued.
   */
  sample(bufferedAmount: number, sentBytes: number, bitsPerSecond: number): number {
    if (sentBytes > this.lastSent) {
      this.marks.push({ offset: this.lastSent, bitsPerSecond });
      if (this.marks.length > MAX_MARKS) this.marks.shift();
      this.lastSent = sentBytes;
    }
    // The oldest byte not yet sent; a socket whose count exceeds what was sent (a stand-in) counts all.
    const oldest = Math.max(0, sentBytes - bufferedAmount);
    while (this.marks.length > 1 && this.marks[1]!.offset <= oldest) this.marks.shift();
    let ms = 0;
    for (let i = 0; i < this.marks.length; i++) {
      const start = Math.max(this.marks[i]!.offset, oldest);
      const end = this.marks[i + 1]?.offset ?? sentBytes;
      if (end > start) ms += ((end - start) * 8 * 1000) / this.marks[i]!.bitsPerSecond;
    }
    // Whatever the count says beyond what was handed over (a stand-in's multiplied bytes) at the latest rate.
    const extra = bufferedAmount - (sentBytes - oldest);
    if (extra > 0 && this.marks.length > 0) ms += (extra * 8 * 1000) / this.marks.at(-1)!.bitsPerSecond;
    return ms;
  }
}
