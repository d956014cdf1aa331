/**
 * What the uplink carries, measured from the WebSocket's drain rate: over a window, the bytes that
 * left the socket are the bytes handed to `send()` minus the growth of `bufferedAmount`. That is
 * the link's rate only while the socket had a backlog the whole window (the link was the
 * bottleneck); a socket that emptied only shows what the recorder produced, a lower bound. So the
 * link's rate is taken since the backlog began (at least MIN_SPAN_MS back, at most HORIZON_MS).
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
 * The drain rate is averaged over at most this much history. Chromium's `bufferedAmount` falls in steps
 * (it counts what the page has not yet passed to the network process, which takes bytes in
 * batches as the kernel's send buffer frees up): on a link at 1.5 Mbit/s it sits still for a few
 * hundred ms, then drops by tens of KB. Over a second and a half the steps average out to the
 * link's rate; much longer would keep the faster past in the measure after the link slowed.
 */
export const HORIZON_MS = 1500;
/** No measure from less history than this: Chromium's steps need some averaging. */
const MIN_SPAN_MS = 750;
/** A backlog under this (bytes) counts as an empty socket: the link is not what limits the rate. */
const IDLE_BYTES = 1024;
/**
 * The link is the bottleneck when the socket held a backlog for at least this share of the
 * history: an empty socket now and then is one of Chromium's steps; a key frame passing on a fast
 * link leaves a backlog for a small share only.
 */
const BUSY_SHARE = 0.5;

export class UplinkEstimator {
  private readonly history: DrainSample[] = [];
  private estimate: number | undefined;
  private limited = false;

  /** Feeds one sample; the estimate and `linkLimited` follow. */
  sample(sample: DrainSample): void {
    const history = this.history;
    history.push(sample);
    // Keep one sample at or before the horizon, so that the span covers all of it.
    while (history.length > 2 && history[1]!.at <= sample.at - HORIZON_MS) history.shift();
    const first = history[0]!;
    const span = sample.at - first.at;
    if (span < MIN_SPAN_MS) return;
    let busy = 0;
    for (let i = 0; i < history.length - 1; i++) {
      if (history[i]!.bufferedAmount > IDLE_BYTES) busy += history[i + 1]!.at - history[i]!.at;
    }
    this.limited = busy >= BUSY_SHARE * span;
    if (this.limited) {
      // Only since the backlog began: before it the socket drained what was sent, and a link that
      // just slowed down would be measured with its faster past in it.
      this.estimate = drainRate(this.backlogStart(sample.at - MIN_SPAN_MS), sample);
      return;
    }
    const rate = drainRate(first, sample);
    if (this.estimate !== undefined && rate > this.estimate) {
      // The link carried all that was sent: it is at least that fast, whatever it was before.
      this.estimate = rate;
    }
  }

  /** The first sample of the backlog the socket holds now, but none later than `latest` (a measure needs some history). */
  private backlogStart(latest: number): DrainSample {
    const history = this.history;
    let start = history.length - 1;
    while (start > 0 && history[start - 1]!.bufferedAmount > IDLE_BYTES) start--;
    while (start > 0 && history[start]!.at > latest) start--;
    return history[start]!;
  }

  /**
   * The uplink in bits per second: measured while the socket had a backlog, raised since to what a
   * clear link carried. Undefined until the link was once the bottleneck.
   */
  get bitsPerSecond(): number | undefined {
    return this.estimate;
  }

  /** True when the socket held a backlog for most of the history: the link, not the recorder, set the rate. */
  get linkLimited(): boolean {
    return this.limited;
  }
}

/** Bits per second that left the socket between two samples: what was sent minus the backlog's growth. */
function drainRate(from: DrainSample, to: DrainSample): number {
  const drained = to.sentBytes - from.sentBytes - (to.bufferedAmount - from.bufferedAmount);
  // Never negative: a stand-in socket (or a browser's accounting) may grow faster than what was sent.
  return (Math.max(0, drained) * 8 * 1000) / (to.at - from.at);
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
