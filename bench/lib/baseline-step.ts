import type { FileSink } from 'bun';
import { offsetAt, videoFramesBefore, type Clip } from './media.ts';
import { chunkMsFor, stepPlan, type StepEnv } from './relay-step.ts';
import type { BaselineStep } from './results.ts';
import { WindowSampler } from './sampler.ts';
import { checkRecordings } from './sink-step.ts';
import { delayStats, percentile, REAL_TIME_DELAY_P99_MS } from './stats.ts';
import { DEFAULT_INGEST_CA_FILE } from '../../relay/src/config.ts';
import { ffmpegArgs, planPipeline } from '../../relay/src/pipeline.ts';

/**
 * FFmpeg alone: N processes started by the harness with exactly the relay's arguments for this
 * clip's mimeType, each fed the same chunks at the same pace through its stdin (write, then
 * wait for the pipe, as the relay does). What the relay adds is then a ratio against this.
 */
export async function runBaselineStep(env: StepEnv, clip: Clip, n: number): Promise<BaselineStep> {
  const pipeline = planPipeline(clip.mimeType);
  const sampler = new WindowSampler(process.pid, env.sinkPids);
  const plan = stepPlan(env, n);
  const { openAfterMs, closeAfterMs } = plan;
  const keys = Array.from({ length: n }, (_, i) => `base_${pipeline.pipeline}_${n}_${i}_${Date.now().toString(36)}`);
  const t0 = performance.now();
  const window = (async () => {
    await Bun.sleep(openAfterMs);
    sampler.begin();
    await Bun.sleep(closeAfterMs - openAfterMs);
    return sampler.end();
  })();
  const runs = await Promise.all(keys.map(async (key, i) => {
    await Bun.sleep(plan.startAt(i));
    const args = ffmpegArgs(pipeline, env.rtmp.rtmpUrl + key, { rwTimeoutMs: 15_000, ingestCaFile: DEFAULT_INGEST_CA_FILE });
    return feed(clip, args, chunkMsFor(env, n, i), plan.untilSeconds(i));
  }));
  const usage = await window;
  const sink = await checkRecordings(env.rtmp, keys);
  let framesSent = 0;
  let framesAtSink = 0;
  let worst = 1;
  const failures: string[] = [];
  for (const [i, run] of runs.entries()) {
    const sent = videoFramesBefore(clip, run.sentBytes);
    const got = sink.get(keys[i]!)?.videoFrames ?? 0;
    framesSent += sent;
    framesAtSink += got;
    worst = Math.min(worst, got / Math.max(1, sent));
  }
  const stopToExit = runs.map((r) => r.stopToExitMs);
  const inWindow = (d: { at: number }) => d.at >= t0 + openAfterMs && d.at <= t0 + closeAfterMs;
  const pipeDelaySteady = delayStats(runs.flatMap((r) => r.delays.filter(inWindow).map((d) => d.ms)));
  if (!(pipeDelaySteady.p99 <= REAL_TIME_DELAY_P99_MS)) failures.push(`FFmpeg fell behind taking its input (pipe delay p99 in the window ${Math.round(pipeDelaySteady.p99)} ms)`);
  const bad = runs.filter((r) => r.exitCode !== 0).length;
  if (bad > 0) failures.push(`${bad}/${n} FFmpeg processes exited with an error`);
  if (worst < 0.99) failures.push(`a stream lost frames (worst ${(worst * 100).toFixed(1)}% reached the sink)`);
  if (percentile(stopToExit, 95) > 2000) failures.push(`FFmpeg was behind at the end (stdin end→exit p95 ${Math.round(percentile(stopToExit, 95))} ms)`);
  return {
    n,
    usage,
    framesSent,
    framesAtSink,
    worstFrameRatio: worst,
    stopToExit: { p50: percentile(stopToExit, 50), p95: percentile(stopToExit, 95), max: Math.max(...stopToExit) },
    pipeDelay: delayStats(runs.flatMap((r) => r.delays.map((d) => d.ms))),
    pipeDelaySteady,
    realTime: failures.length === 0,
    failures,
  };
}

interface FeedResult {
  exitCode: number;
  sentBytes: number;
  stopToExitMs: number;
  /** Write → pipe took it (`ms`), like the relay delay, and when the write began (performance.now). */
  delays: { at: number; ms: number }[];
}

async function feed(clip: Clip, args: string[], chunkMs: number, untilSeconds: number): Promise<FeedResult> {
  const proc = Bun.spawn(['ffmpeg', ...args], { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' });
  // The relay reads both pipes (progress and log lines); so must the baseline, or FFmpeg blocks.
  const drained = Promise.all([new Response(proc.stdout).arrayBuffer(), new Response(proc.stderr).arrayBuffer()]);
  const sink: FileSink = proc.stdin;
  const t0 = performance.now();
  let sent = 0;
  const delays: FeedResult['delays'] = [];
  const total = offsetAt(clip, untilSeconds);
  try {
    for (let i = 1; sent < total; i++) {
      const wait = t0 + i * chunkMs - performance.now();
      if (wait > 0) await Bun.sleep(wait);
      const end = Math.min(total, offsetAt(clip, Math.min((i * chunkMs) / 1000, untilSeconds)));
      if (end <= sent) continue;
      const at = performance.now();
      // As the relay writes (relay/src/ffmpeg.ts): a write that did not complete is the flush.
      const written = sink.write(clip.bytes.subarray(sent, end));
      const pending = typeof written === 'number' ? sink.flush() : written;
      if (typeof pending !== 'number') await pending;
      delays.push({ at, ms: performance.now() - at });
      sent = end;
    }
  } catch {
    // FFmpeg died: its exit code says so.
  }
  const endAt = performance.now();
  try {
    await sink.end();
  } catch {
    // already closed
  }
  const exitCode = await proc.exited;
  await drained;
  return { exitCode, sentBytes: sent, stopToExitMs: performance.now() - endAt, delays };
}
