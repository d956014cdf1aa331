import type { DestinationStatus } from '../../public/protocol.ts';
import type { RelayConfig } from '../config.ts';
import type { FfmpegExit, FfmpegProgress } from '../ffmpeg.ts';
import type { Retry } from '../outages.ts';
import type { FfmpegArgsOptions } from '../pipeline.ts';
import { SessionError } from '../protocol.ts';

/**
 * Where a session's media goes (supervisor.ts): tries of one FFmpeg publishing to its ingest, or of
 * an encoder and a publisher per destination (fanout.ts). The output owns every FFmpeg it starts
 * and the capacity slot each holds; the session only writes media to it and hears what happens.
 */
export interface Output {
  /** The current FFmpeg's process id (the encoder's, with several destinations), for the `session ready` log line. */
  readonly pid: number | undefined;
  /** Media received from the client that FFmpeg has not taken yet. */
  readonly bufferedBytes: number;
  /** Outages of the output so far, the current one included, for `stats`. */
  readonly reconnects: number;
  /** Each destination's state, for `stats`; only with several destinations. */
  readonly destinations?: DestinationStatus[];
  /** Resolves once no FFmpeg of this output runs and none will be started: its slots are all back. */
  readonly done: Promise<void>;
  /** Milliseconds the output has been down, every outage included, for `stats`. */
  downMs(now: number): number;
  write(chunk: Uint8Array): void;
  /** The client's stream ended: FFmpeg flushes what it has, bounded by RELAY_INGEST_STALL_TIMEOUT_MS. */
  end(): void;
  /** Stops every FFmpeg at once; no event follows. */
  kill(): void;
}

/** What an output tells its session. Nothing is reported after {@link Output.kill}. */
export interface OutputEvents {
  /**
   * A new FFmpeg replaced a failed one, after {@link onReconnecting} (`attempt` counts the tries of
   * this outage). It reads a new recording, which the client starts on `ready` (docs/protocol.md#reconnecting).
   */
  onRestarted(attempt: number): void;
  /** The stream reached the ingest; `downMs` when it is back after an outage. */
  onLive(downMs: number | undefined): void;
  /** The output failed and tries again after `retry.retryInMs`. */
  onReconnecting(failure: SessionError, retry: Retry): void;
  /** The output gave up: the session ends with this failure. */
  onFailed(failure: SessionError): void;
  /** After {@link Output.end}: everything was flushed to the ingest. */
  onEnded(): void;
  onProgress(progress: FfmpegProgress): void;
  /** `true` when queued input crosses the high-water mark, `false` when it falls below the low one. */
  onBackpressure(backedUp: boolean): void;
  /** Media held in front of this output's FFmpeg processes, for RELAY_MAX_TOTAL_BUFFERED_BYTES. */
  onQueueChange(bytes: number): void;
}

/**
 * One try at an output, started by the supervisor: one FFmpeg (ffmpeg-attempt.ts), or an encoder
 * and its publishers (fanout.ts). It holds its capacity slots until its last FFmpeg is reaped.
 */
export interface Attempt {
  readonly pid: number | undefined;
  /** Media received that FFmpeg has not taken yet. */
  readonly bufferedBytes: number;
  /** When FFmpeg last took input, or now while it holds none: the stall watchdog's clock. */
  readonly lastInputProgressAt: number;
  /** Each destination's state; only with several destinations. */
  readonly destinations?: DestinationStatus[];
  /**
   * Resolves once every FFmpeg of the try is reaped and its slots are back: with `undefined` after
   * a clean end of its input, else with why it failed. Whatever a killed try resolves with is moot.
   */
  readonly exited: Promise<OutputFailure | undefined>;
  write(chunk: Uint8Array): void;
  end(): void;
  kill(): void;
}

/** What a try tells its supervisor. */
export type AttemptEvents = Pick<OutputEvents, 'onProgress' | 'onBackpressure' | 'onQueueChange'> & {
  /** The stream reached the ingest (the first destination's, with several). */
  onLive(): void;
};

/**
 * An output failure, and whether a new try may fix it (docs/protocol.md#reconnecting): the ingest
 * refusing, dropping or stalling, FFmpeg crashing and a try not going live may pass; a certificate
 * the relay cannot verify, media FFmpeg cannot read and the buffer limits will not.
 */
export class OutputFailure extends SessionError {
  constructor(code: SessionError['code'], message: string, readonly retryable: boolean) {
    super(code, message);
  }
}

/**
 * Why an FFmpeg that exited unasked failed (docs/pipeline.md#faults), or `undefined` for a clean
 * exit after the end of its input.
 */
export function exitFailure(exit: FfmpegExit, ending: boolean): OutputFailure | undefined {
  if (ending && exit.exitCode === 0) return undefined;
  if (exit.outOfMemory && !exit.killed) {
    // Within -max_pixels, only hostile or broken media needs this much: it ends its own session.
    return new OutputFailure('UNSUPPORTED_MEDIA', 'the media needs more memory than the relay gives one encoder (RELAY_FFMPEG_MEMORY_LIMIT_MB)', false);
  }
  if (exit.signal !== null && !exit.killed) return new OutputFailure('INTERNAL', 'encoder crashed', true);
  if (exit.failure === 'output' && exit.certificateRejected) {
    return new OutputFailure('INGEST_FAILED', 'the ingest\'s TLS certificate could not be verified', false);
  }
  if (exit.failure === 'output') return new OutputFailure('INGEST_FAILED', 'ingest refused or dropped the connection', true);
  // A clean exit before the end of the input means the demuxer gave up on it.
  if (exit.failure === 'input' || exit.exitCode === 0) return new OutputFailure('UNSUPPORTED_MEDIA', 'the encoder could not read the media', false);
  return new OutputFailure('INTERNAL', 'encoder failed', false);
}

/** The output options of every FFmpeg that publishes to an ingest. */
export function publishOptions(cfg: RelayConfig): FfmpegArgsOptions {
  // FFmpeg's own write timeout is a backstop behind the relay's stall watchdog, never before it.
  return { rwTimeoutMs: cfg.ingestStallTimeoutMs + 5000, ingestCaFile: cfg.ingestCaFile };
}

/** The failure of an FFmpeg that cannot be started at all (a wrong RELAY_FFMPEG_PATH). */
export const SPAWN_FAILED = 'could not start the encoder';

/**
 * Queue sizes at which an FFmpeg's input stops and restarts being read: a few MediaRecorder chunks
 * (docs/pipeline.md#backpressure-and-limits), and never more than a part of RELAY_MAX_BUFFERED_BYTES.
 */
export function waterMarks(cfg: RelayConfig): { highWaterBytes: number; lowWaterBytes: number } {
  return { highWaterBytes: Math.min(1024 * 1024, cfg.maxBufferedBytes / 4), lowWaterBytes: Math.min(256 * 1024, cfg.maxBufferedBytes / 16) };
}

/** Between the checks of an output's stall and live timeouts. */
export const WATCHDOG_INTERVAL_MS = 250;
