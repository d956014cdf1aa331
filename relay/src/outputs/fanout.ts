import type { DestinationStatus } from '../../public/protocol.ts';
import type { CapacityLimit, Slot } from '../capacity.ts';
import type { RelayConfig } from '../config.ts';
import type { DelayTrace } from '../delay-trace.ts';
import { FfmpegProcess } from '../ffmpeg.ts';
import { encoderArgs, type PipelinePlan } from '../pipeline.ts';
import type { SessionError } from '../protocol.ts';
import { log } from '../telemetry.ts';
import { logExit } from './ffmpeg-attempt.ts';
import { FlvReader, type FlvTag } from './flv.ts';
import { exitFailure, OutputFailure, waterMarks, type Attempt, type AttemptEvents } from './output.ts';
import { Publisher, type StreamStart } from './publisher.ts';

/** One destination of a session, checked and normalised (see destination.ts). */
export interface FanoutDestination {
  /** `scheme://host:port`, for stats and logs. */
  readonly ingest: string;
  readonly publishUrl: string;
  readonly streamKey: string;
}

/** Options of {@link FanoutAttempt}. */
export interface FanoutOptions {
  readonly session: string;
  readonly plan: PipelinePlan;
  readonly destinations: readonly FanoutDestination[];
  /** One slot per destination, reserved by the opener; each publisher's first FFmpeg holds its own. */
  readonly slots: readonly Slot[];
  readonly config: RelayConfig;
  readonly delayTrace?: DelayTrace;
  /** Another slot for a destination's next FFmpeg, of the kind its first one had. */
  reserve(index: number): Slot | CapacityLimit;
}

/**
 * A try of a session with several destinations (docs/pipeline.md#several-destinations): one encoder
 * FFmpeg reads the browser's stream and writes FLV to the relay, which hands every tag to one
 * publisher FFmpeg per destination. Each destination fails and reconnects on its own; the try is
 * live when the first destination is, and fails when the encoder does (the session may then try
 * again, with a new recording) or every destination has (it may not).
 */
export class FanoutAttempt implements Attempt {
  readonly exited: Promise<OutputFailure | undefined>;
  private readonly encoder: FfmpegProcess;
  private readonly publishers: Publisher[] = [];
  private readonly reader = new FlvReader();
  private readonly start: StreamStart = { configs: [] };
  private live = false;
  private ending = false;
  /** The latest destination failure: the try's own once every destination has failed. */
  private lastFailure?: SessionError;

  /** @throws Error when an FFmpeg cannot be started (every slot is then back). */
  constructor(private readonly opts: FanoutOptions, private readonly events: AttemptEvents) {
    const cfg = opts.config;
    const context = { session: opts.session, role: 'encoder' };
    try {
      this.encoder = new FfmpegProcess({
        path: cfg.ffmpegPath,
        args: encoderArgs(opts.plan),
        secrets: [],
        memoryLimitMiB: cfg.ffmpegMemoryLimitMiB,
        ...waterMarks(cfg),
        delayTrace: opts.delayTrace,
        holdsSlot: false,
        onStdout: (chunk) => this.onEncoded(chunk),
      }, { ...events, onOutputOpened: () => {}, onQueueChange: () => this.reportQueue() });
    } catch (e) {
      for (const slot of opts.slots) slot.release();
      throw e;
    }
    try {
      opts.destinations.forEach((d, i) => this.publishers.push(new Publisher(
        { session: opts.session, ingest: d.ingest, publishUrl: d.publishUrl, streamKey: d.streamKey, config: cfg, reserve: () => opts.reserve(i) },
        { onLive: () => this.onPublisherLive(), onFailed: (f) => this.onPublisherFailed(f), onQueueChange: () => this.reportQueue() },
        opts.slots[i]!,
      )));
    } catch (e) {
      // Those started hold their own slots; the rest go back here.
      for (const slot of opts.slots.slice(this.publishers.length + 1)) slot.release();
      this.kill();
      throw e;
    }
    this.exited = this.encoder.exited.then(async (exit) => {
      logExit(context, exit);
      // What the encoder wrote last is with the publishers: they flush it to their ingests.
      for (const p of this.publishers) p.end();
      await Promise.all(this.publishers.map((p) => p.done));
      if (this.allFailed()) return new OutputFailure(this.lastFailure!.code, this.lastFailure!.message, false);
      return exitFailure(exit, this.ending);
    });
  }

  get pid(): number {
    return this.encoder.pid;
  }

  get bufferedBytes(): number {
    return this.encoder.bufferedBytes;
  }

  /** The encoder's: it is never held back by a publisher, so when it takes no input it is stuck itself. */
  get lastInputProgressAt(): number {
    return this.encoder.lastInputProgressAt;
  }

  get destinations(): DestinationStatus[] {
    return this.publishers.map((p) => p.stats);
  }

  write(chunk: Uint8Array): void {
    this.encoder.write(chunk);
  }

  /** Ends the input: the encoder flushes, then each publisher; each is killed if it cannot within the stall timeout. */
  end(): void {
    this.ending = true;
    this.encoder.end();
    const encoder = this.encoder;
    setTimeout(() => encoder.kill('SIGKILL'), this.opts.config.ingestStallTimeoutMs).unref();
  }

  kill(): void {
    this.encoder.kill('SIGKILL');
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
    this.events.onLive();
  }

  private onPublisherFailed(failure: SessionError): void {
    this.lastFailure = failure;
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
