import type { DestinationStatus } from '../../public/protocol.ts';
import type { CapacityLimit, Slot } from '../capacity.ts';
import type { RelayConfig } from '../config.ts';
import { publisherArgs } from '../pipeline.ts';
import type { SessionError } from '../protocol.ts';
import { log, metric } from '../telemetry.ts';
import { ffmpegAttempt } from './ffmpeg-attempt.ts';
import { withTimestamp, type FlvTag } from './flv.ts';
import { OutputFailure, publishOptions } from './output.ts';
import { OutputSupervisor } from './supervisor.ts';

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
  onFailed(failure: SessionError): void;
  onQueueChange(): void;
}

/**
 * One destination: an FFmpeg that copies the encoder's FLV to one ingest (supervisor.ts), and
 * starts again on its own when that fails (docs/pipeline.md#several-destinations). It never slows
 * the encoder or the other destinations: what it cannot take is dropped with its FFmpeg, and a new
 * one joins the stream at the next key frame, after the stream's header and decoder configurations.
 */
export class Publisher {
  private readonly output: OutputSupervisor;
  private current: DestinationState = 'connecting';
  /** Whether the current FFmpeg has been written the stream's start and a key frame. */
  private joined = false;

  /** @throws Error when FFmpeg cannot be spawned (the slot is then back). */
  constructor(private readonly opts: PublisherOptions, events: PublisherEvents, firstSlot: Slot) {
    const context = { session: opts.session, ingest: opts.ingest };
    const cfg = opts.config;
    const command = { args: publisherArgs(opts.publishUrl, publishOptions(cfg)), secrets: [opts.publishUrl, opts.streamKey], context };
    let slot: Slot | undefined = firstSlot;
    const output = OutputSupervisor.start({
      config: cfg,
      context,
      reconnect: true,
      open: (attemptEvents) => {
        // The first try has the slot the session reserved; each later one takes its own.
        const held = slot ?? opts.reserve();
        slot = undefined;
        return typeof held === 'string' ? held : ffmpegAttempt(cfg, command, held, attemptEvents);
      },
      refusal: () => new OutputFailure('UNAVAILABLE', 'relay is at capacity', true),
    }, {
      onRestarted: () => {
        this.joined = false;
      },
      onLive: (downMs) => {
        if (downMs !== undefined) {
          log('info', 'destination live again', { ...context, downMs, reconnects: this.output.reconnects });
          metric('ReconnectDowntimeMs', downMs, 'Milliseconds');
        } else {
          log('info', 'destination live', context);
        }
        this.current = 'live';
        events.onLive();
      },
      onReconnecting: (failure, { attempt, retryInMs }) => {
        this.current = 'reconnecting';
        log('warn', 'destination reconnecting', { ...context, attempt, reason: failure.message, retryInMs });
      },
      onFailed: (failure) => {
        this.current = 'failed';
        log('warn', 'destination failed', { ...context, reason: failure.message });
        events.onFailed(failure);
      },
      onEnded: () => {
        this.current = 'ended';
      },
      // The encoder is never held back for one destination: the queue's bound is the only brake.
      onBackpressure: () => {},
      onProgress: () => {},
      onQueueChange: () => events.onQueueChange(),
    });
    // Never refused: the first try's slot is given.
    this.output = output as OutputSupervisor;
  }

  get state(): DestinationState {
    return this.current;
  }

  get bufferedBytes(): number {
    return this.output.bufferedBytes;
  }

  /** Resolves once no FFmpeg of this destination runs, and none will be started. */
  get done(): Promise<void> {
    return this.output.done;
  }

  get stats(): DestinationStatus {
    return { ingest: this.opts.ingest, state: this.current, reconnects: this.output.reconnects, downMs: this.output.downMs(Date.now()) };
  }

  /** Hands the destination one tag of the encoder's stream. */
  write(tag: FlvTag, start: StreamStart): void {
    if (this.output.pid === undefined) return;
    if (!this.joined) {
      if (tag.kind !== 'video' || !tag.keyframe || tag.sequenceHeader || !start.header) return;
      // The configurations carry the key frame's time, so the new publish starts there.
      this.output.write(start.header);
      for (const config of start.configs) this.output.write(withTimestamp(config, tag.timestamp).bytes);
      this.joined = true;
    }
    if (this.output.bufferedBytes + tag.bytes.byteLength > this.opts.config.maxBufferedBytes) {
      this.output.failTry(new OutputFailure('INGEST_FAILED', 'ingest is not keeping up; buffered media limit reached', true));
      return;
    }
    this.output.write(tag.bytes);
  }

  /** The encoder's stream ended: the current FFmpeg flushes what it has and exits. */
  end(): void {
    this.output.end();
  }

  kill(): void {
    this.output.kill();
  }
}
