/**
 * The video bitrate a broadcast aims at, given what the uplink carries (uplink-estimator.ts):
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
  /** What the uplink carries, measured from the socket's drain rate; absent until the link was once the bottleneck. */
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
/** Lowered only with at least this much media waiting: a smaller backlog is a key frame passing. */
const LOWER_FROM_BACKLOG_MS = 200;
/** Between two decreases: the encoder's new rate needs a window or two to show in the drain rate. */
const LOWER_EVERY_MS = 1000;
/** Raised after the link kept up (no window with a backlog throughout) this long, and this long after any change. */
const PROBE_AFTER_MS = 2000;
/** Each probe: 15 % up (at least 50 kbit/s), so 1.2 → 2.5 Mbit/s takes six steps, about 12 s. */
const PROBE_FACTOR = 1.15;
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
  private lastLimitedAt: number | undefined;
  private lastReportAt: number | undefined;
  private dropping = false;
  /** Since when the link has carried less than the minimum needs (at the minimum). */
  private belowMinimumSince: number | undefined;

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
    return this.estimator.bitsPerSecond;
  }

  /** Feeds one look at the socket (taken before a chunk is sent, or on the leg's clock). */
  sample(sample: DrainSample): BitrateStep {
    const closed = this.estimator.sample(sample);
    const before = this.target;
    // The bytes handed over since the last look were recorded at the target then in force: this one.
    const backlogMs = this.queued.sample(sample.bufferedAmount, sample.sentBytes, this.target + this.limits.audioBitsPerSecond);
    let congested: string | undefined;
    if (closed && this.estimator.linkLimited) this.lastLimitedAt = sample.at;
    if (this.limits.inPlace) {
      if (closed) this.adapt(sample.at, backlogMs);
      congested = this.checkMinimum(sample.at);
      if (backlogMs >= DROP_FROM_MS) this.dropping = true;
      else if (backlogMs < DROP_UNTIL_MS) this.dropping = false;
    }
    const changed = this.target !== before;
    const due = changed || this.lastReportAt === undefined || sample.at - this.lastReportAt >= REPORT_EVERY_MS;
    if (due) this.lastReportAt = sample.at;
    const uplink = this.estimator.bitsPerSecond;
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

  /** After a closed window: down to what the link carries, or one probe up once it has kept up for a while. */
  private adapt(at: number, backlogMs: number): void {
    const { minVideoBitsPerSecond: min, maxVideoBitsPerSecond: max, audioBitsPerSecond: audio } = this.limits;
    const uplink = this.estimator.bitsPerSecond;
    const sinceChange = this.lastChangeAt === undefined ? Number.POSITIVE_INFINITY : at - this.lastChangeAt;
    if (this.estimator.linkLimited && uplink !== undefined && backlogMs >= LOWER_FROM_BACKLOG_MS) {
      const fits = clamp(Math.round(uplink * HEADROOM - audio), min, max);
      if (fits < this.target && sinceChange >= LOWER_EVERY_MS) this.change(fits, at);
      return;
    }
    const keptUpFor = this.lastLimitedAt === undefined ? Number.POSITIVE_INFINITY : at - this.lastLimitedAt;
    if (this.target < max && keptUpFor >= PROBE_AFTER_MS && sinceChange >= PROBE_AFTER_MS) {
      this.change(Math.min(max, Math.round(Math.max(this.target * PROBE_FACTOR, this.target + PROBE_MIN_STEP))), at);
    }
  }

  private change(target: number, at: number): void {
    this.target = target;
    this.lastChangeAt = at;
  }

  /** The message to end with once the link has carried less than the minimum needs for CONGESTED_AFTER_MS. */
  private checkMinimum(at: number): string | undefined {
    const { minVideoBitsPerSecond: min, audioBitsPerSecond: audio } = this.limits;
    const uplink = this.estimator.bitsPerSecond;
    const below = this.target <= min && this.estimator.linkLimited && uplink !== undefined && uplink < min + audio;
    if (!below) {
      this.belowMinimumSince = undefined;
      return undefined;
    }
    this.belowMinimumSince ??= at;
    if (at - this.belowMinimumSince < CONGESTED_AFTER_MS) return undefined;
    return `The upload carried ${mbit(uplink)} Mbit/s for ${CONGESTED_AFTER_MS / 1000} s, less than the lowest bitrate needs `
      + `(${mbit(min)} Mbit/s of video and ${mbit(audio)} Mbit/s of audio); the broadcast stopped.`;
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

function mbit(bitsPerSecond: number): string {
  return (bitsPerSecond / 1_000_000).toFixed(2);
}
