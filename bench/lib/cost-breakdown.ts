import type { Clip } from './media.ts';

/** CPU one second of media costs FFmpeg, per part of the copy pipeline, in percent of one core. */
export interface CostBreakdown {
  /** Video copied + Opus → AAC, as the relay's copy pipeline does. */
  whole: number;
  videoCopyOnly: number;
  audioToAacOnly: number;
}

// The relay's copy pipeline, without the pacing and the network: FFmpeg reads the clip as fast as
// it can and writes FLV to /dev/null. What each part costs shows where the per-stream CPU goes.
const AAC = ['-c:a', 'aac', '-profile:a', 'aac_low', '-b:a', '128k', '-ar', '48000', '-ac', '2'];

/** Measures (from the children's own rusage) what each part of the copy pipeline costs on this clip. */
export async function copyCostBreakdown(clip: Clip): Promise<CostBreakdown> {
  const run = async (maps: string[]) => {
    let best = Number.POSITIVE_INFINITY;
    // Best of three: the machine may be busy with something else for a moment.
    for (let i = 0; i < 3; i++) {
      const proc = Bun.spawn(['ffmpeg', '-hide_banner', '-loglevel', 'error', '-nostdin', '-f', 'matroska', '-i', clip.path, ...maps, '-f', 'flv', '-y', '/dev/null'], {
        stdin: 'ignore', stdout: 'ignore', stderr: 'ignore',
      });
      await proc.exited;
      const u = proc.resourceUsage();
      if (u) best = Math.min(best, Number(u.cpuTime.user + u.cpuTime.system) / 1e6);
    }
    return (best / clip.seconds) * 100;
  };
  return {
    whole: await run(['-map', '0:v:0', '-map', '0:a:0', '-c:v', 'copy', ...AAC]),
    videoCopyOnly: await run(['-map', '0:v:0', '-c:v', 'copy']),
    audioToAacOnly: await run(['-map', '0:a:0', ...AAC]),
  };
}
