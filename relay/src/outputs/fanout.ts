import type { CapacityLimit, Slot } from '../capacity.ts';
import type { RelayConfig } from '../config.ts';
import type { DelayTrace } from '../delay-trace.ts';
import { FfmpegProcess, type FfmpegEvents, type FfmpegExit } from '../ffmpeg.ts';
import { encoderArgs, type PipelinePlan } from '../pipeline.ts';
import { log } from '../telemetry.ts';
import { FlvReader, type FlvTag } from './flv.ts';
import { Publisher, type StreamStart } from './publisher.ts';
import type { DestinationStatus } from '../../public/protocol.ts';

/** One destination of a session, checked and normalised (see destination.ts). */
export interface FanoutDestination {
  /** `scheme://host:port`, for stats and logs. */
  readonly ingest: string;
  readonly publishUrl: string;
  readonly streamKey: string;
}

/** Options of {@link Fanout}. */
export interface FanoutOptions {
  readonly session: string;
  readonly plan: PipelinePlan;
  readonly destinations: readonly FanoutDestination[];
  /** One slot per destination, reserved by the session; each publisher's first FFmpeg holds its own. */
  readonly slots: readonly Slot[];
  readonly config: RelayConfig;
  readonly highWaterBytes: number;
  readonly lowWaterBytes: number;
  readonly delayTrace?: DelayTrace;
  /** Another slot for a destination's next FFmpeg, of the kind its first one had. */
  reserve(index: number): Slot | CapacityLimit;
}

/**
 * A session with several destinations (docs/pipeline.md#several-destinations): one encoder FFmpeg
 * reads the browser's stream and writes FLV to the relay, which hands every tag to one publisher
 * FFmpeg per destination. It looks to the session like one FFmpeg: media goes in, `live` comes out
 * when the first destination is live, and it has exited when the encoder and every publisher have.
 */
export class Fanout {
  readonly exited: Promise<FfmpegExit>;
  private readonly encoder: FfmpegProcess;
  private readonly publishers: Publisher[];
  private readonly reader = new FlvReader();
  private readonly start: StreamStart = { configs: [] };
  private live = false;

  /** @throws Error when the encoder cannot be started (the slots are then given back). */
  constructor(private readonly opts: FanoutOptions, private readonly events: FfmpegEvents) {
    const cfg = opts.config;
    try {
      this.encoder = new FfmpegProcess({
        path: cfg.ffmpegPath,
        args: encoderArgs(opts.plan),
        secrets: [],
        memoryLimitMiB: cfg.ffmpegMemoryLimitMiB,
        highWaterBytes: opts.highWaterBytes,
        lowWaterBytes: opts.lowWaterBytes,
        delayTrace: opts.delayTrace,
        holdsSlot: false,
        onStdout: (chunk) => this.onEncoded(chunk),
      }, {
        onOutputOpened: () => {},
        onProgress: (p) => events.onProgress(p),
        onBackpressure: (backedUp) => events.onBackpressure(backedUp),
        onQueueChange: () => this.reportQueue(),
      });
    } catch (e) {
      for (const slot of opts.slots) slot.release();
      throw e;
    }
    this.publishers = opts.destinations.map((d, i) => new Publisher(
      { session: opts.session, ingest: d.ingest, publishUrl: d.publishUrl, streamKey: d.streamKey, config: cfg, reserve: () => opts.reserve(i) },
      { onLive: () => this.onPublisherLive(), onFailed: () => this.onPublisherFailed(), onQueueChange: () => this.reportQueue() },
      opts.slots[i]!,
    ));
    this.exited = this.encoder.exited.then(async (exit) => {
      // What the encoder wrote last is with the publishers: they flush it to their ingests.
      for (const p of this.publishers) p.end();
      await Promise.all(this.publishers.map((p) => p.done));
      // As one FFmpeg whose only output failed would end.
      return this.allFailed() ? { ...exit, exitCode: exit.exitCode === 0 ? 1 : exit.exitCode, failure: 'output', detail: 'every destination failed' } : exit;
    });
  }

  get pid(): number {
    return this.encoder.pid;
  }

  get bufferedBytes(): number {
    return this.encoder.bufferedBytes;
  }

  get lastInputProgressAt(): number {
    return this.encoder.lastInputProgressAt;
  }

  /** Each destination's state, for `stats`. */
  get destinations(): DestinationStatus[] {
    return this.publishers.map((p) => p.stats);
  }

  write(chunk: Uint8Array): void {
    this.encoder.write(chunk);
  }

  /** Ends the input: the encoder flushes, then each publisher; each is killed if it cannot within the stall timeout. */
  end(): void {
    this.encoder.end();
    const encoder = this.encoder;
    setTimeout(() => encoder.kill('SIGKILL'), this.opts.config.ingestStallTimeoutMs).unref();
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.encoder.kill(signal);
    for (const p of this.publishers) p.kill();
  }

  private onEncoded(chunk: Uint8Array): void {
    let tags: FlvTag[];
    try {
      tags = this.reader.push(chunk);
    } catch (e) {
      log('error', 'the encoder wrote no FLV', { session: this.opts.session, error: String(e) });
      this.encoder.kill('SIGKILL');
      return;
    }
    this.start.header ??= this.reader.header;
    for (const tag of tags) {
      if (tag.kind === 'script' || tag.sequenceHeader) this.remember(tag);
      for (const p of this.publishers) p.write(tag, this.start);
    }
  }

  /** Keeps the latest metadata and decoder configuration of each kind, in the order a stream starts with them. */
  private remember(tag: FlvTag): void {
    const order = (t: FlvTag) => ({ script: 0, video: 1, audio: 2, other: 3 })[t.kind];
    const configs = this.start.configs.filter((c) => c.kind !== tag.kind);
    configs.push(tag);
    configs.sort((a, b) => order(a) - order(b));
    this.start.configs.splice(0, this.start.configs.length, ...configs);
  }

  private onPublisherLive(): void {
    if (this.live) return;
    this.live = true;
    this.events.onOutputOpened();
  }

  private onPublisherFailed(): void {
    // With every destination gone there is nothing left to encode for.
    if (this.allFailed()) this.encoder.kill('SIGKILL');
  }

  private allFailed(): boolean {
    return this.publishers.every((p) => p.state === 'failed');
  }

  private reportQueue(): void {
    this.events.onQueueChange(this.encoder.bufferedBytes + this.publishers.reduce((n, p) => n + p.bufferedBytes, 0));
  }
}
