/** Video keyframe spacing of a recording, measured on video packets only. */
export interface VideoGops {
  /** Keyframe timestamps (s). */
  readonly keyframes: number[];
  /**
   * Largest distance between consecutive keyframes, or from the last keyframe to the last video
   * packet. Audio packets are left out on purpose: audio running on after the last video frame
   * says nothing about the GOP.
   */
  readonly maxIntervalS: number;
}

/** Reads every video packet's timestamp and key flag with ffprobe. */
export async function videoGops(path: string): Promise<VideoGops> {
  const proc = Bun.spawn(
    ['ffprobe', '-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', path],
    { stdout: 'pipe', stderr: 'ignore' },
  );
  const text = await new Response(proc.stdout).text();
  await proc.exited;
  const packets = text
    .split('\n')
    .map((line) => line.split(','))
    .map(([t, flags]) => ({ t: Number.parseFloat(t ?? ''), key: flags?.includes('K') ?? false }))
    .filter((p) => Number.isFinite(p.t));
  const keyframes = packets.filter((p) => p.key).map((p) => p.t);
  let maxIntervalS = keyframes.length === 0 ? Number.POSITIVE_INFINITY : 0;
  for (let i = 1; i < keyframes.length; i++) maxIntervalS = Math.max(maxIntervalS, keyframes[i]! - keyframes[i - 1]!);
  const lastVideo = Math.max(...packets.map((p) => p.t));
  if (keyframes.length > 0) maxIntervalS = Math.max(maxIntervalS, lastVideo - keyframes[keyframes.length - 1]!);
  return { keyframes, maxIntervalS };
}
