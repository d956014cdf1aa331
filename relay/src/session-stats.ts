import type { FfmpegProgress } from './ffmpeg.ts';
import type { Output } from './outputs/output.ts';
import type { ServerMessage } from './protocol.ts';
import { metric } from './telemetry.ts';

/**
 * A session's `stats` frames (docs/protocol.md#messages-from-the-relay) and the metrics sent with
 * them. One per FFmpeg reading the client's stream: dropped frames are counted from its start.
 */
export class StatsReport {
  private reportedDrops = 0;

  /** The next `stats` frame; `progress` only while the stream is live (FFmpeg's numbers mean nothing before). */
  next(output: Output | undefined, progress: FfmpegProgress | undefined): ServerMessage {
    const destinations = output?.destinations;
    const stats = {
      bitrateKbps: round(progress?.bitrateKbps ?? 0),
      fps: round(progress?.fps ?? 0),
      speed: round(progress?.speed ?? 0),
      droppedFrames: progress?.droppedFrames ?? 0,
      bufferedBytes: output?.bufferedBytes ?? 0,
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
