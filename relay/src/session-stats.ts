import type { FfmpegProgress } from './ffmpeg.ts';
import type { Output } from './outputs/output.ts';
import type { ServerMessage } from './protocol.ts';
import { metric } from './telemetry.ts';

/** How often a session sends `stats` (docs/protocol.md#messages-from-the-relay). */
export const STATS_INTERVAL_MS = 2000;

/**
 * A session's `stats` frames (docs/protocol.md#messages-from-the-relay) and the metrics sent with
 * them, for the whole session: dropped frames are counted from the current FFmpeg's start.
 */
export class StatsReport {
  private reportedDrops = 0;
  private receivedBytes = 0;

  /** Counts a binary frame as it arrives, dropped or not: the client compares it with what it sent. */
  received(bytes: number): void {
    this.receivedBytes += bytes;
  }

  /** A new FFmpeg reads the stream: it counts its dropped frames from 0. */
  restarted(): void {
    this.reportedDrops = 0;
  }

  /** The next `stats` frame; `progress` only while the stream is live (FFmpeg's numbers mean nothing before). */
  next(output: Output | undefined, progress: FfmpegProgress | undefined): ServerMessage {
    const destinations = output?.destinations;
    const stats = {
      bitrateKbps: round(progress?.bitrateKbps ?? 0),
      fps: round(progress?.fps ?? 0),
      speed: round(progress?.speed ?? 0),
      droppedFrames: progress?.droppedFrames ?? 0,
      bufferedBytes: output?.bufferedBytes ?? 0,
      receivedBytes: this.receivedBytes,
      reconnects: output?.reconnects ?? 0,
      downMs: output?.downMs(Date.now()) ?? 0,
      ...(destinations ? { destinations } : {}),
    };
    if (progress) {
      metric('IngestBitrateKbps', stats.bitrateKbps, 'Kilobits/Second');
      metric('DroppedFrames', Math.max(0, stats.droppedFrames - this.reportedDrops), 'Count');
      this.reportedDrops = stats.droppedFrames;
    }
    return { type: 'stats', ...stats };
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
