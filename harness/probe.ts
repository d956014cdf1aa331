/** What ffprobe says about a recording. */
export interface RecordingProbe {
  videoCodec: string;
  audioCodec: string;
  audioSampleRate: number;
  durationS: number;
  maxKeyframeIntervalS: number;
  avStartDeltaS: number;
  width: number;
  height: number;
  /** Whether each stream's decode timestamps only ever increase. */
  timestampsMonotonic: boolean;
  /** The first decode timestamp that did not increase, and the one before it, when there is one. */
  timestampProblem?: string;
  /** Whether the first video packet is a key frame (a player can start at the beginning). */
  startsWithKeyframe: boolean;
}

async function ffprobeJson(args: string[]): Promise<any> {
  const proc = Bun.spawn(['ffprobe', '-v', 'error', '-of', 'json', ...args], { stdout: 'pipe', stderr: 'pipe' });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`ffprobe failed (${code}): ${err}`);
  return JSON.parse(out);
}

/**
 * Probes a recorded FLV: codecs, size, duration, the largest interval between video keyframes,
 * and how far apart the first audio and video packets start.
 */
export async function probeRecording(path: string): Promise<RecordingProbe> {
  const info = await ffprobeJson(['-show_streams', '-show_format', path]);
  const streams: any[] = info.streams ?? [];
  const v = streams.find((s) => s.codec_type === 'video');
  const a = streams.find((s) => s.codec_type === 'audio');
  const packets = await ffprobeJson(['-show_entries', 'packet=stream_index,pts_time,dts_time,flags', path]);
  const firstTime: Record<number, number> = {};
  let lastTime = 0;
  const keyTimes: number[] = [];
  let firstVideoFlags: string | undefined;
  const lastDts: Record<number, number> = {};
  let timestampProblem: string | undefined;
  for (const [i, p] of (packets.packets ?? []).entries()) {
    const dts = Number.parseFloat(p.dts_time);
    if (Number.isFinite(dts)) {
      const last = lastDts[p.stream_index];
      if (last !== undefined && dts <= last) timestampProblem ??= `stream ${p.stream_index}, packet ${i}: DTS ${p.dts_time} s after ${last} s`;
      lastDts[p.stream_index] = dts;
    }
    const t = Number.parseFloat(p.pts_time ?? p.dts_time);
    if (!Number.isFinite(t)) continue;
    if (firstTime[p.stream_index] === undefined) firstTime[p.stream_index] = t;
    lastTime = Math.max(lastTime, t);
    if (v && p.stream_index === v.index) {
      firstVideoFlags ??= String(p.flags);
      if (String(p.flags).includes('K')) keyTimes.push(t);
    }
  }
  let maxKeyframeIntervalS = 0;
  for (let i = 1; i < keyTimes.length; i++) maxKeyframeIntervalS = Math.max(maxKeyframeIntervalS, keyTimes[i]! - keyTimes[i - 1]!);
  // The tail after the last keyframe counts too: a GOP that never ends is not "≤ 2 s".
  if (keyTimes.length > 0) maxKeyframeIntervalS = Math.max(maxKeyframeIntervalS, lastTime - keyTimes[keyTimes.length - 1]!);
  const vStart = v ? firstTime[v.index] : undefined;
  const aStart = a ? firstTime[a.index] : undefined;
  const starts = Object.values(firstTime);
  const durationS = starts.length > 0 ? lastTime - Math.min(...starts) : 0;
  return {
    videoCodec: v?.codec_name ?? '',
    audioCodec: a?.codec_name ?? '',
    audioSampleRate: a ? Number(a.sample_rate) : 0,
    durationS,
    maxKeyframeIntervalS,
    avStartDeltaS: vStart !== undefined && aStart !== undefined ? Math.abs(vStart - aStart) : Number.POSITIVE_INFINITY,
    width: v?.width ?? 0,
    height: v?.height ?? 0,
    timestampsMonotonic: timestampProblem === undefined,
    timestampProblem,
    startsWithKeyframe: firstVideoFlags?.includes('K') ?? false,
  };
}
