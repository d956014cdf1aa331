/** What reached the RTMP server for one session, from its recording. */
export interface SinkCheck {
  videoCodec: string;
  audioCodec: string;
  videoFrames: number;
  /** First to last video frame, plus one frame. */
  durationS: number;
}

/** Counts the video frames of a recorded FLV and measures its video duration (one ffprobe run). */
export async function checkSink(path: string): Promise<SinkCheck> {
  const proc = Bun.spawn(['ffprobe', '-v', 'error', '-of', 'json', '-show_entries', 'stream=index,codec_type,codec_name:packet=stream_index,pts_time', path], {
    stdout: 'pipe', stderr: 'ignore',
  });
  const [text, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  if (code !== 0) return { videoCodec: '', audioCodec: '', videoFrames: 0, durationS: 0 };
  const info = JSON.parse(text);
  const streams: any[] = info.streams ?? [];
  const v = streams.find((s) => s.codec_type === 'video');
  const a = streams.find((s) => s.codec_type === 'audio');
  let frames = 0;
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const p of info.packets ?? []) {
    if (!v || p.stream_index !== v.index) continue;
    const t = Number.parseFloat(p.pts_time);
    if (!Number.isFinite(t)) continue;
    frames++;
    first = Math.min(first, t);
    last = Math.max(last, t);
  }
  const frameS = frames > 1 ? (last - first) / (frames - 1) : 0;
  return { videoCodec: v?.codec_name ?? '', audioCodec: a?.codec_name ?? '', videoFrames: frames, durationS: frames > 0 ? last - first + frameS : 0 };
}
