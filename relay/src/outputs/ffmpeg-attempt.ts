import type { Slot } from '../capacity.ts';
import type { RelayConfig } from '../config.ts';
import type { DelayTrace } from '../delay-trace.ts';
import { FfmpegProcess } from '../ffmpeg.ts';
import { log } from '../telemetry.ts';
import { exitFailure, OutputFailure, waterMarks, type Attempt, type AttemptEvents } from './output.ts';

/** What one FFmpeg runs. */
export interface FfmpegCommand {
  readonly args: string[];
  /** Redacted out of anything kept from its lines. */
  readonly secrets: string[];
  /** Fields of its `ffmpeg exited` log line. */
  readonly context: Readonly<Record<string, string>>;
  readonly delayTrace?: DelayTrace;
}

/**
 * A try of one FFmpeg publishing to one ingest, holding `slot` until it is reaped: the slot goes
 * back here and nowhere else (at once when FFmpeg cannot be spawned). After `end()`, FFmpeg has
 * RELAY_INGEST_STALL_TIMEOUT_MS to flush to the ingest, or is killed and the try failed.
 * @throws Error when FFmpeg cannot be spawned
 */
export function ffmpegAttempt(cfg: RelayConfig, command: FfmpegCommand, slot: Slot, events: AttemptEvents): Attempt {
  let ffmpeg: FfmpegProcess;
  try {
    ffmpeg = new FfmpegProcess({
      path: cfg.ffmpegPath,
      memoryLimitMiB: cfg.ffmpegMemoryLimitMiB,
      args: command.args,
      secrets: command.secrets,
      ...waterMarks(cfg),
      delayTrace: command.delayTrace,
    }, { ...events, onOutputOpened: () => events.onLive() });
  } catch (e) {
    slot.release();
    throw e;
  }
  let ending = false;
  let endTimer: Timer | undefined;
  let endTimedOut = false;
  const exited = ffmpeg.exited.then((exit) => {
    clearTimeout(endTimer);
    slot.release();
    logExit(command.context, exit);
    return endTimedOut ? new OutputFailure('INGEST_FAILED', 'ingest did not accept the end of the stream in time', false) : exitFailure(exit, ending);
  });
  return {
    get pid() {
      return ffmpeg.pid;
    },
    get bufferedBytes() {
      return ffmpeg.bufferedBytes;
    },
    get lastInputProgressAt() {
      return ffmpeg.lastInputProgressAt;
    },
    exited,
    write: (chunk) => ffmpeg.write(chunk),
    end: () => {
      if (ending) return;
      ending = true;
      ffmpeg.end();
      // FFmpeg gets as long to flush as a stalled ingest gets.
      endTimer = setTimeout(() => {
        endTimedOut = true;
        ffmpeg.kill('SIGKILL');
      }, cfg.ingestStallTimeoutMs);
    },
    kill: () => ffmpeg.kill('SIGKILL'),
  };
}

/** The `ffmpeg exited` line: how it ended and, when it failed, the redacted cause. */
export function logExit(context: Readonly<Record<string, string>>, exit: Awaited<FfmpegProcess['exited']>): void {
  log(exit.exitCode === 0 ? 'info' : 'warn', 'ffmpeg exited', {
    ...context,
    exitCode: exit.exitCode,
    signal: exit.signal,
    killed: exit.killed,
    failure: exit.failure,
    detail: exit.detail,
  });
}
