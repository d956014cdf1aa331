import type { CapacityLimit, Slot } from '../capacity.ts';
import type { RelayConfig } from '../config.ts';
import { FfmpegProcess, type FfmpegExit } from '../ffmpeg.ts';
import { Outages } from '../outages.ts';
import { publisherArgs } from '../pipeline.ts';
import { log, metric } from '../telemetry.ts';
import { withTimestamp, type FlvTag } from './flv.ts';
import type { DestinationStatus } from '../../public/protocol.ts';

/** Where one destination is (the `state` of its entry in `stats`). */
export type DestinationState = DestinationStatus['state'];

/** What every publisher is written before its first key frame: the FLV header, metadata and decoder configurations. */
export interface StreamStart {
  header?: Uint8Array;
  /** The latest script tag and video and audio sequence headers, in that order. */
  readonly configs: FlvTag[];
}

/** One destination of a session with several. */
export interface PublisherOptions {
  readonly session: string;
  /** `scheme://host:port`, for stats and logs. */
  readonly ingest: string;
  readonly publishUrl: string;
  readonly streamKey: string;
  readonly config: RelayConfig;
  /** A slot for each FFmpeg after the first, which starts with the one the session reserved. */
  reserve(): Slot | CapacityLimit;
}

/** What a publisher tells its fan-out. */
export interface PublisherEvents {
  onLive(): void;
  /** The destination gave up for good (its window ran out, or a failure not worth retrying). */
  onFailed(): void;
  onQueueChange(): void;
}

const WATCHDOG_MS = 250;
const HIGH_WATER_BYTES = 1024 * 1024;

/**
 * One destination: an FFmpeg that copies the encoder's FLV to one ingest, and starts again on its
 * own when that fails (docs/pipeline.md#several-destinations). It never slows the encoder or the
 * other destinations: what it cannot take is dropped with its FFmpeg, and a new one joins the stream
 * at the next key frame, after the stream's header and decoder configurations.
 */
export class Publisher {
  /** Resolves once no FFmpeg of this destination runs, and none will be started. */
  readonly done: Promise<void>;
  private current: DestinationState = 'connecting';
  private ffmpeg?: FfmpegProcess;
  /** Whether the current FFmpeg has been written the stream's start and a key frame. */
  private joined = false;
  private startedAt = 0;
  private wasLive = false;
  private ending = false;
  private readonly outages: Outages;
  private retryTimer?: Timer;
  private readonly watchdog: Timer;
  private resolveDone!: () => void;

  constructor(private readonly opts: PublisherOptions, private readonly events: PublisherEvents, firstSlot: Slot) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.outages = new Outages(opts.config.reconnectWindowMs);
    this.watchdog = setInterval(() => this.check(), WATCHDOG_MS);
    this.startFfmpeg(firstSlot);
  }

  get state(): DestinationState {
    return this.current;
  }

  get bufferedBytes(): number {
    return this.ffmpeg?.bufferedBytes ?? 0;
  }

  get stats(): DestinationStatus {
    return { ingest: this.opts.ingest, state: this.current, reconnects: this.outages.reconnects, downMs: this.outages.downMs(Date.now()) };
  }

  /** Hands the destination one tag of the encoder's stream. */
  write(tag: FlvTag, start: StreamStart): void {
    const ffmpeg = this.ffmpeg;
    if (!ffmpeg || this.ending) return;
    if (!this.joined) {
      if (tag.kind !== 'video' || !tag.keyframe || tag.sequenceHeader || !start.header) return;
      // The configurations carry the key frame's time, so the new publish starts there.
      ffmpeg.write(start.header);
      for (const config of start.configs) ffmpeg.write(withTimestamp(config, tag.timestamp).bytes);
      this.joined = true;
    }
    if (ffmpeg.bufferedBytes + tag.bytes.byteLength > this.opts.config.maxBufferedBytes) {
      this.attemptFailed('ingest is not keeping up; buffered media limit reached');
      return;
    }
    ffmpeg.write(tag.bytes);
  }

  /** The encoder's stream ended: the current FFmpeg flushes what it has and exits. */
  end(): void {
    if (this.ending) return;
    this.ending = true;
    clearTimeout(this.retryTimer);
    const ffmpeg = this.ffmpeg;
    if (!ffmpeg) return this.finish(this.current === 'failed' ? 'failed' : 'ended');
    ffmpeg.end();
    setTimeout(() => {
      if (ffmpeg !== this.ffmpeg) return;
      // The ingest did not take the end of the stream: this destination failed, the others did not.
      log('warn', 'destination failed', { session: this.opts.session, ingest: this.opts.ingest, reason: 'ingest did not accept the end of the stream in time' });
      this.current = 'failed';
      ffmpeg.kill('SIGKILL');
    }, this.opts.config.ingestStallTimeoutMs).unref();
  }

  kill(): void {
    this.ending = true;
    clearTimeout(this.retryTimer);
    if (this.ffmpeg) this.ffmpeg.kill('SIGKILL');
    else this.finish(this.current === 'failed' ? 'failed' : 'ended');
  }

  private startFfmpeg(slot: Slot): void {
    const cfg = this.opts.config;
    let ffmpeg: FfmpegProcess;
    try {
      ffmpeg = new FfmpegProcess({
        path: cfg.ffmpegPath,
        args: publisherArgs(this.opts.publishUrl, { rwTimeoutMs: cfg.ingestStallTimeoutMs + 5000, ingestCaFile: cfg.ingestCaFile }),
        secrets: [this.opts.publishUrl, this.opts.streamKey],
        memoryLimitMiB: cfg.ffmpegMemoryLimitMiB,
        // The encoder is never held back for one destination: the queue's bound is the only brake.
        highWaterBytes: HIGH_WATER_BYTES,
        lowWaterBytes: HIGH_WATER_BYTES / 4,
      }, {
        onOutputOpened: () => {
          if (ffmpeg === this.ffmpeg) this.onLive();
        },
        onProgress: () => {},
        onBackpressure: () => {},
        onQueueChange: () => this.events.onQueueChange(),
      });
    } catch (e) {
      slot.release();
      log('error', 'could not start a publisher', { session: this.opts.session, ingest: this.opts.ingest, error: String(e) });
      this.giveUp();
      return;
    }
    this.ffmpeg = ffmpeg;
    this.joined = false;
    this.startedAt = Date.now();
    this.current = this.outages.windowEndsAt === undefined ? 'connecting' : 'reconnecting';
    void ffmpeg.exited.then((exit) => {
      slot.release();
      if (ffmpeg !== this.ffmpeg) return;
      this.ffmpeg = undefined;
      this.events.onQueueChange();
      if (this.ending) this.finish(this.current === 'failed' ? 'failed' : 'ended');
      else this.attemptFailed(describe(exit), exit.certificateRejected);
    });
  }

  private onLive(): void {
    this.wasLive = true;
    const downMs = this.outages.recovered(Date.now());
    if (downMs !== undefined) {
      log('info', 'destination live again', { session: this.opts.session, ingest: this.opts.ingest, downMs, reconnects: this.outages.reconnects });
      metric('ReconnectDowntimeMs', downMs, 'Milliseconds');
    } else {
      log('info', 'destination live', { session: this.opts.session, ingest: this.opts.ingest });
    }
    this.current = 'live';
    this.events.onLive();
  }

  private check(): void {
    const ffmpeg = this.ffmpeg;
    if (!ffmpeg || this.ending) return;
    const cfg = this.opts.config;
    const now = Date.now();
    if (now - ffmpeg.lastInputProgressAt > cfg.ingestStallTimeoutMs) {
      this.attemptFailed(`ingest stalled for ${cfg.ingestStallTimeoutMs} ms`);
    } else if (this.current !== 'live' && now - this.startedAt > cfg.liveTimeoutMs) {
      this.attemptFailed(`stream did not go live within ${cfg.liveTimeoutMs} ms`);
    }
  }

  /**
   * This FFmpeg failed. A destination that was live tries again within RELAY_RECONNECT_WINDOW_MS,
   * as a session does; one that never was (a wrong key, an ingest that refuses it), or whose
   * certificate was refused, gives up at once.
   */
  private attemptFailed(reason: string, permanent = false): void {
    if (this.ending || this.current === 'failed') return;
    this.ffmpeg?.kill('SIGKILL');
    this.ffmpeg = undefined;
    const next = this.wasLive && !permanent ? this.outages.failed(Date.now()) : undefined;
    if (!next) {
      log('warn', 'destination failed', { session: this.opts.session, ingest: this.opts.ingest, reason });
      this.giveUp();
      return;
    }
    const { attempt, retryInMs } = next;
    if (attempt === 1) metric('Reconnects', 1, 'Count');
    this.current = 'reconnecting';
    log('warn', 'destination reconnecting', { session: this.opts.session, ingest: this.opts.ingest, attempt, reason, retryInMs });
    this.retryTimer = setTimeout(() => {
      const slot = this.opts.reserve();
      if (typeof slot === 'string') this.attemptFailed('relay is at capacity');
      else this.startFfmpeg(slot);
    }, retryInMs);
  }

  private giveUp(): void {
    this.current = 'failed';
    this.ending = true;
    clearInterval(this.watchdog);
    this.events.onFailed();
    if (!this.ffmpeg) this.finish('failed');
  }

  private finish(state: 'ended' | 'failed'): void {
    this.current = state;
    clearInterval(this.watchdog);
    clearTimeout(this.retryTimer);
    this.resolveDone();
  }
}

function describe(exit: FfmpegExit): string {
  if (exit.certificateRejected) return 'the ingest\'s TLS certificate could not be verified';
  if (exit.signal !== null && !exit.killed) return 'publisher crashed';
  return 'ingest refused or dropped the connection';
}
