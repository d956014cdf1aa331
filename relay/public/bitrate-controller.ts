/**
 * The video bitrate a broadcast aims at, given what the uplink carries (uplink-estimator.ts, and
 * the relay's count of what reached it, which sees the buffers past the page):
 * lowered to fit the link as soon as the link is the bottleneck, raised again step by step once it
 * keeps up, never outside [minimum, maximum], and given up on when even the minimum does not fit
 * for CONGESTED_AFTER_MS (docs/embedding.md#slow-uplinks).
 *
 * On the WebCodecs path the encoder takes each new target in place (`inPlace`); MediaRecorder
 * cannot change its bitrate, so there the controller only measures and reports, and the leg keeps
 * the restart at a lower bitrate (backpressure.ts).
 *
 * Pure logic: samples carry their own clock.
 */

import { QueuedMedia, UplinkEstimator, type DrainSample } from './uplink-estimator.js';

/** What the `bitrate` event carries. */
export interface BitrateReport {
  /** The video encoder's target now. */
  readonly videoBitsPerSecond: number;
  /**
   * What the uplink carries, measured while it was the bottleneck (from the socket's drain rate, or
   * from what reached the relay), raised since to what a clear link carried; absent until then.
   */
  readonly uplinkBitsPerSecond?: number;
  /** The media waiting in the browser's socket, in ms of recording (each byte at the bitrate it was recorded at). */
  readonly backlogMs: number;
}

/** The range the controller works in. */
export interface BitrateLimits {
  /** The configured bitrate: where a broadcast starts and the most it goes back up to. */
  readonly maxVideoBitsPerSecond: number;
  readonly minVideoBitsPerSecond: number;
  /** Where this connection starts (a failover keeps the adapted rate). @default maxVideoBitsPerSecond */
  readonly startVideoBitsPerSecond?: number;
  /** Sent beside the video at a fixed rate: the link must carry it too. */
  readonly audioBitsPerSecond: number;
  /** True: change the encoder's bitrate and drop frames here; false: only measure and report. */
  readonly inPlace: boolean;
}

/** What the leg should do after a sample. */
export interface BitrateStep {
  /** The target after this sample. */
  readonly videoBitsPerSecond: number;
  /** True when the target changed with this sample: configure the encoder with it. */
  readonly changed: boolean;
  /** In place only: skip frames before the encoder from now on (false: encode them again). */
  readonly drop?: boolean;
  /** A report for the app, when one is due: on a change, else every REPORT_EVERY_MS. */
  readonly report?: BitrateReport;
  /** Set when the link carried less than the minimum needs for CONGESTED_AFTER_MS: why the broadcast ends. */
  readonly congested?: string;
}

/** How long the link may carry less than the minimum bitrate needs before the broadcast ends with CONGESTED. */
export const CONGESTED_AFTER_MS = 10_000;
/** A new target leaves this share of the measured uplink free, so that the backlog drains. */
const HEADROOM = 0.85;
/**
 * The link is the bottleneck only while this much media (ms) waits in the socket as well. A
 * browser on a busy machine hands bytes to its network process late, so a fast link can show a
 * steady backlog: the bytes drained then are only what the recorder made, and lowering to them
 * would lower again and again. A link slower than the stream makes the backlog grow past this
 * within a second.
 */
const BOTTLENECK_BACKLOG_MS = 250;
/**
 * Media that left the page but had not reached the relay (the relay's `receivedBytes`, every 2 s):
 * the browser's network process, the kernel's send buffer and the link's own queue. They can hold
 * seconds of media on a slow link while `bufferedAmount` stays empty, so a probe above the link
 * is seen there first. From this much the link is the bottleneck; under the lower mark it keeps up.
 */
const IN_FLIGHT_FROM_MS = 400;
const IN_FLIGHT_CLEAR_MS = 150;
/** A relay report this soon after a change still shows mostly what was sent before it. */
const REPORT_SETTLES_MS = 1000;
/** How often the target is reconsidered. */
const ADAPT_EVERY_MS = 250;
/**
 * Between two decreases. Each one aims at what the link was measured to carry, whatever the
 * encoder made, so a second one soon after only corrects a first measure that still held some of
 * the faster past.
 */
const LOWER_EVERY_MS = 500;
/** Raised after the link kept up (no window with a backlog throughout) this long, and this long after any change. */
const PROBE_AFTER_MS = 2000;
/** Each probe: 20 % up (at least 50 kbit/s), so 1.2 → 2.5 Mbit/s takes five steps, about 10 s. */
const PROBE_FACTOR = 1.2;
const PROBE_MIN_STEP = 50_000;
/**
 * In place, frames are dropped before the encoder from this much queued media until half of it is
 * left: the backlog (and so the latency it adds) stays under a second while the new target takes hold.
 */
const DROP_FROM_MS = 600;
const DROP_UNTIL_MS = 300;
/** How often a report goes out when nothing changed. */
export const REPORT_EVERY_MS = 1000;

export class BitrateController {
  private readonly estimator = new UplinkEstimator();
  private readonly queued = new QueuedMedia();
  private target: number;
  private lastChangeAt: number | undefined;
  private lastAdaptAt: number | undefined;
  private lastLimitedAt: number | undefined;
  private lastReportAt: number | undefined;
  private dropping = false;
  /** The uplink as last measured (see BitrateReport.uplinkBitsPerSecond). */
  private uplink: number | undefined;
  /** The relay's latest count of what it received, with the page's own count when it arrived. */
  private relay: { readonly at: number; readonly receivedBytes: number } | undefined;
  /** Media on the way past the page (ms) by the latest relay report not taken too soon after a change. */
  private inFlightMs: number | undefined;
  /** When the last relay report showed the way to it clear, if it ever did. */
  private lastClearAt: number | undefined;
  /** Since when the link has carried less than the minimum needs (at the minimum), and how many bytes had left the socket then. */
  private belowMinimum: { readonly since: number; readonly left: number } | undefined;

  constructor(private readonly limits: BitrateLimits) {
    const { minVideoBitsPerSecond: min, maxVideoBitsPerSecond: max } = limits;
    if (!(min > 0) || !(max >= min)) throw new RangeError(`minVideoBitsPerSecond (${min}) must be above 0 and at most videoBitsPerSecond (${max})`);
    this.target = clamp(limits.startVideoBitsPerSecond ?? max, min, max);
  }

  /** True when the target follows the uplink; false when it only measures (and the target never moves). */
  get inPlace(): boolean {
    return this.limits.inPlace;
  }

  get videoBitsPerSecond(): number {
    return this.target;
  }

  get uplinkBitsPerSecond(): number | undefined {
    return this.uplink;
  }

  /**
   * Feeds the relay's count of the bytes it received (`stats.receivedBytes`), with the page's own
   * look at the socket when it arrived; it stands until the next one.
   */
  relayReceived(at: number, receivedBytes: number, socket: DrainSample): void {
    const left = socket.sentBytes - socket.bufferedAmount;
    const ms = (Math.max(0, left - receivedBytes) * 8 * 1000) / (this.target + this.limits.audioBitsPerSecond);
    const previous = this.relay;
    // What reached the relay since its last count: the link's rate while media waits on the way.
    const deliveredBps = previous && at > previous.at ? ((receivedBytes - previous.receivedBytes) * 8 * 1000) / (at - previous.at) : undefined;
    this.relay = { at, receivedBytes };
    if (deliveredBps !== undefined) this.measured(deliveredBps, ms >= IN_FLIGHT_FROM_MS, true);
    // Taken this soon after a change, it mostly shows what was sent before it: the last one stands.
    if (this.lastChangeAt !== undefined && at < this.lastChangeAt + REPORT_SETTLES_MS) return;
    this.inFlightMs = ms;
    if (ms < IN_FLIGHT_CLEAR_MS) this.lastClearAt = at;
  }

  /** Feeds one look at the socket (taken before a chunk is sent, or on the leg's clock). */
  sample(sample: DrainSample): BitrateStep {
    this.estimator.sample(sample);
    // A socket that keeps up shows only what was sent, and the buffers past it may have taken it:
    // with the relay's counts, only those raise the measure.
    const drained = this.estimator.bitsPerSecond;
    if (drained !== undefined) this.measured(drained, this.estimator.linkLimited, this.relay === undefined);
    const before = this.target;
    // The bytes handed over since the last look were recorded at the target then in force: this one.
    const backlogMs = this.queued.sample(sample.bufferedAmount, sample.sentBytes, this.target + this.limits.audioBitsPerSecond);
    let congested: string | undefined;
    const bottleneck = (this.estimator.linkLimited && backlogMs >= BOTTLENECK_BACKLOG_MS) || (this.inFlightMs ?? 0) >= IN_FLIGHT_FROM_MS;
    // Dropping frames is the link not keeping up too, even while Chromium's steps leave the socket empty for a moment.
    if (bottleneck || this.dropping) this.lastLimitedAt = sample.at;
    if (this.limits.inPlace) {
      if (this.lastAdaptAt === undefined || sample.at - this.lastAdaptAt >= ADAPT_EVERY_MS) {
        this.lastAdaptAt = sample.at;
        this.adapt(sample.at, bottleneck);
      }
      congested = this.checkMinimum(sample);
      if (backlogMs >= DROP_FROM_MS) this.dropping = true;
      else if (backlogMs < DROP_UNTIL_MS) this.dropping = false;
    }
    const changed = this.target !== before;
    const due = changed || this.lastReportAt === undefined || sample.at - this.lastReportAt >= REPORT_EVERY_MS;
    if (due) this.lastReportAt = sample.at;
    const uplink = this.uplink;
    const report: BitrateReport | undefined = due
      ? {
        videoBitsPerSecond: this.target,
        ...(uplink !== undefined ? { uplinkBitsPerSecond: Math.round(uplink) } : {}),
        backlogMs: Math.round(backlogMs),
      }
      : undefined;
    return {
      videoBitsPerSecond: this.target,
      changed,
      ...(this.limits.inPlace ? { drop: this.dropping } : {}),
      ...(report ? { report } : {}),
      ...(congested ? { congested } : {}),
    };
  }

  /**
   * One measure of the uplink: taken while the link was the bottleneck, it is the uplink; taken
   * while it kept up, it only shows the link carried at least that, so it may raise the uplink
   * (when `mayRaise`) once there is one.
   */
  private measured(bitsPerSecond: number, whileBottleneck: boolean, mayRaise: boolean): void {
    if (whileBottleneck || (mayRaise && this.uplink !== undefined && bitsPerSecond > this.uplink)) this.uplink = bitsPerSecond;
  }

  /** Down to what the link carries while it is the bottleneck, or one probe up once it has kept up for a while. */
  private adapt(at: number, bottleneck: boolean): void {
    const { minVideoBitsPerSecond: min, maxVideoBitsPerSecond: max, audioBitsPerSecond: audio } = this.limits;
    const uplink = this.uplink;
    const sinceChange = this.lastChangeAt === undefined ? Number.POSITIVE_INFINITY : at - this.lastChangeAt;
    if (bottleneck && uplink !== undefined) {
      const fits = clamp(Math.round(uplink * HEADROOM - audio), min, max);
      if (fits < this.target && sinceChange >= LOWER_EVERY_MS) this.change(fits, at);
      return;
    }
    const keptUpFor = this.lastLimitedAt === undefined ? Number.POSITIVE_INFINITY : at - this.lastLimitedAt;
    // With the relay's counts, a probe waits for one taken since the last change that shows the way clear.
    const clearSinceChange = this.lastClearAt !== undefined && this.lastClearAt >= (this.lastChangeAt ?? -Infinity) + REPORT_SETTLES_MS;
    const clear = this.relay === undefined || clearSinceChange;
    if (this.target < max && clear && keptUpFor >= PROBE_AFTER_MS && sinceChange >= PROBE_AFTER_MS) {
      this.change(Math.min(max, Math.round(Math.max(this.target * PROBE_FACTOR, this.target + PROBE_MIN_STEP))), at);
    }
  }

  private change(target: number, at: number): void {
    this.target = target;
    this.lastChangeAt = at;
  }

  /**
   * The message to end with once the link has carried less than the minimum needs for
   * CONGESTED_AFTER_MS: measured over that whole time (the bytes that left the socket), so that one
   * of the browser's steps neither starts nor ends it.
   */
  private checkMinimum(sample: DrainSample): string | undefined {
    const { minVideoBitsPerSecond: min, audioBitsPerSecond: audio } = this.limits;
    const uplink = this.uplink;
    const left = sample.sentBytes - sample.bufferedAmount;
    // An episode ends only when the link has kept up for a while (or the target rose): a socket
    // that empties for a moment does not end it.
    const keptUp = this.lastLimitedAt === undefined || sample.at - this.lastLimitedAt >= PROBE_AFTER_MS;
    if (this.target > min || keptUp || uplink === undefined) {
      this.belowMinimum = undefined;
      return undefined;
    }
    if (!this.belowMinimum) {
      if (uplink < min + audio) this.belowMinimum = { since: sample.at, left };
      return undefined;
    }
    const elapsed = sample.at - this.belowMinimum.since;
    if (elapsed < CONGESTED_AFTER_MS) return undefined;
    const carried = (Math.max(0, left - this.belowMinimum.left) * 8 * 1000) / elapsed;
    // Both over the whole time and now: a link that recovered in the last moments is given its chance.
    if (carried >= min + audio || uplink >= min + audio) return undefined;
    return `The upload carried ${mbit(carried)} Mbit/s for ${Math.round(elapsed / 1000)} s, less than the lowest bitrate needs `
      + `(${mbit(min)} Mbit/s of video and ${mbit(audio)} Mbit/s of audio); the broadcast stopped.`;
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

function mbit(bitsPerSecond: number): string {
  return (bitsPerSecond / 1_000_000).toFixed(2);
}
