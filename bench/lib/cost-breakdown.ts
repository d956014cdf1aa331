import { join } from 'node:path';
import type { Clip } from './media.ts';
import { AAC_ENCODE } from '../../relay/src/pipeline.ts';

/** CPU one second of media costs FFmpeg, per part of the copy pipeline, in percent of one core. */
export interface CostBreakdown {
  /** Video copied + Opus → AAC, as the relay's copy pipeline does. */
  whole: number;
  videoCopyOnly: number;
  audioToAacOnly: number;
  /**
   * What each further destination adds (docs/pipeline.md#several-destinations): a publisher copying
   * the encoder's FLV. A session with n destinations costs about whole + n × this.
   */
  perFurtherDestination: number;
}

// The relay's copy pipeline, without the pacing and the network: FFmpeg reads the clip as fast as
// it can and writes FLV to /dev/null. What each part costs shows where the per-stream CPU goes.

/** Measures (from the children's own rusage) what each part of the copy pipeline costs on this clip. */
export async function copyCostBreakdown(clip: Clip, workDir: string): Promise<CostBreakdown> {
  const run = async (input: string[], maps: string[], output = '/dev/null') => {
    let best = Number.POSITIVE_INFINITY;
    // Best of three: the machine may be busy with something else for a moment.
    for (let i = 0; i < 3; i++) {
      const proc = Bun.spawn(['ffmpeg', '-hide_banner', '-loglevel', 'error', '-nostdin', ...input, ...maps, '-f', 'flv', '-y', output], {
        stdin: 'ignore', stdout: 'ignore', stderr: 'ignore',
      });
      await proc.exited;
      const u = proc.resourceUsage();
      if (u) best = Math.min(best, Number(u.cpuTime.user + u.cpuTime.system) / 1e6);
    }
    return (best / clip.seconds) * 100;
  };
  const mkv = ['-f', 'matroska', '-i', clip.path];
  const encoded = join(workDir, 'encoder-output.flv');
  const whole = await run(mkv, ['-map', '0:v:0', '-map', '0:a:0', '-c:v', 'copy', ...AAC_ENCODE], encoded);
  return {
    whole,
    videoCopyOnly: await run(mkv, ['-map', '0:v:0', '-c:v', 'copy']),
    audioToAacOnly: await run(mkv, ['-map', '0:a:0', ...AAC_ENCODE]),
    perFurtherDestination: await run(['-f', 'flv', '-i', encoded], ['-map', '0', '-c', 'copy']),
  };
}
