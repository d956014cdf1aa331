import { readFileSync } from 'node:fs';
import type { Clip } from './media.ts';
import { videoFramesBefore } from './media.ts';
import { publish, type PublishResult } from './publisher.ts';
import { between, seededRandom } from './random.ts';
import type { BenchPipeline, RelayStep } from './results.ts';
import { WindowSampler } from './sampler.ts';
import { checkRecordings } from './sink-step.ts';
import { delayStats, median, percentile, REAL_TIME_DELAY_P99_MS } from './stats.ts';
import { startRelay } from '../../harness/relay-process.ts';
import type { RtmpServer } from '../../harness/rtmp-server.ts';

const FPS = 30;

/** What every step shares. */
export interface StepEnv {
  rtmp: RtmpServer;
  /** The RTMP server's pids, for its CPU. */
  sinkPids: () => number[];
  allowedIngests: string;
  secret: string;
  token: string;
  rampPerSessionMs: number;
  rampMinMs: number;
  /** Seconds all N stream together after the ramp. */
  stepSeconds: number;
  chunkMinMs: number;
  chunkMaxMs: number;
  /** A directory for the relay's delay trace (`RELAY_DELAY_TRACE_FILE`, relay/src/delay-trace.ts). */
  workDir: string;
  log: (line: string) => void;
}

/** How long N publishers take to start: FFmpeg's own start-up costs CPU, so a bigger N ramps longer. */
export function rampMs(env: StepEnv, n: number): number {
  return Math.max(env.rampMinMs, n * env.rampPerSessionMs);
}

/** When each publisher starts and stops, and when the measured window opens and closes (ms from the step's start). */
export interface StepPlan {
  startAt: (i: number) => number;
  untilSeconds: (i: number) => number;
  openAfterMs: number;
  closeAfterMs: number;
  endAfterMs: number;
}

/**
 * The plan of a step, the same for the relay and the baseline: publisher i starts at
 * `startAt(i)` and streams until every publisher stops together at `endAfterMs`; the measured
 * window opens once every stream has started and had 1.5 s to settle, and closes 0.5 s before
 * they stop. Times in ms from the start of the step.
 */
export function stepPlan(env: StepEnv, n: number): StepPlan {
  const ramp = rampMs(env, n);
  const endAfterMs = ramp + env.stepSeconds * 1000;
  const startAt = (i: number) => (i * ramp) / n;
  return { startAt, untilSeconds: (i) => (endAfterMs - startAt(i)) / 1000, openAfterMs: ramp + 1500, closeAfterMs: endAfterMs - 500, endAfterMs };
}

/** Media each publisher needs at most for a step of N: the clip must be at least this long. */
export function clipSecondsFor(env: StepEnv, maxN: number): number {
  return Math.ceil(rampMs(env, maxN) / 1000 + env.stepSeconds + 1);
}

/** Chunk period of publisher `i`: drawn once per index, so the baseline feeds the same sizes. */
export function chunkMsFor(env: StepEnv, n: number, i: number): number {
  const rand = seededRandom(n * 1000 + i + 1);
  return between(rand, env.chunkMinMs, env.chunkMaxMs);
}

/** Runs N publishers through a fresh relay and measures it. */
export async function runRelayStep(env: StepEnv, clip: Clip, pipeline: BenchPipeline, n: number): Promise<RelayStep> {
  const delayFile = `${env.workDir}/delays-${pipeline}-${n}.jsonl`;
  await Bun.write(delayFile, '');
  const relay = await startRelay({
    RELAY_SERVE_PAGE: 'off',
    RELAY_AUTH_SECRET: env.secret,
    RELAY_ALLOWED_INGESTS: env.allowedIngests,
    RELAY_MAX_SESSIONS: String(n + 10),
    RELAY_MAX_TRANSCODES: String(n + 1),
    // Every publisher connects from 127.0.0.1: the per-address limits must not be what a step measures.
    RELAY_MAX_SESSIONS_PER_ADDRESS: String(n + 10),
    RELAY_MAX_SESSIONS_PER_SUBJECT: String(n + 10),
    RELAY_MAX_PENDING_CONNECTIONS: String(n + 10),
    RELAY_MAX_PENDING_PER_ADDRESS: String(n + 10),
    RELAY_DELAY_TRACE_FILE: delayFile,
  });
  const sampler = new WindowSampler(relay.pid, env.sinkPids);
  const plan = stepPlan(env, n);
  const { openAfterMs, closeAfterMs } = plan;
  const keys = Array.from({ length: n }, (_, i) => `bench_${pipeline}_${n}_${i}_${Date.now().toString(36)}`);
  const t0 = performance.now();
  const epoch0 = Date.now();
  const window = (async () => {
    await Bun.sleep(openAfterMs);
    sampler.begin();
    await Bun.sleep(closeAfterMs - openAfterMs);
    return sampler.end();
  })();
  const results: PublishResult[] = await Promise.all(keys.map(async (key, i) => {
    await Bun.sleep(plan.startAt(i));
    return publish({
      wsUrl: relay.wsUrl,
      start: { type: 'start', token: env.token, ingest: env.rtmp.rtmpUrl, streamKey: key, mimeType: clip.mimeType },
      clip,
      chunkMs: chunkMsFor(env, n, i),
      untilSeconds: plan.untilSeconds(i),
      windowFrom: t0 + openAfterMs,
      closeTimeoutMs: 60_000,
    });
  }));
  const usage = await window;
  const leftover = relay.ffmpegChildren().length;
  const exitCode = await relay.stop();
  env.log(`  relay ${pipeline} n=${n}: streams done in ${((performance.now() - t0) / 1000).toFixed(1)} s; checking recordings`);

  // Each trace line holds the second before its timestamp: lines wholly inside the window are the steady state.
  const all: number[] = [];
  const inWindow: number[] = [];
  let pauses = 0;
  let windowPauses = 0;
  for (const line of readFileSync(delayFile, 'utf8').split('\n')) {
    if (!line) continue;
    const rec = JSON.parse(line) as { t: number; us: number[]; startUs: number[]; pauses: number };
    const steadyLine = rec.t - 1000 >= epoch0 + openAfterMs && rec.t <= epoch0 + closeAfterMs;
    for (const us of [...rec.us, ...rec.startUs]) {
      all.push(us / 1000);
      if (steadyLine) inWindow.push(us / 1000);
    }
    pauses += rec.pauses;
    if (steadyLine) windowPauses += rec.pauses;
  }
  const relayDelaySteady = delayStats(inWindow);

  const sink = await checkRecordings(env.rtmp, keys);
  let framesSent = 0;
  let framesAtSink = 0;
  let worstFrameRatio = 1;
  let worstDurationRatio = 1;
  let secondsSent = 0;
  const failures: string[] = [];
  let sessionsOk = 0;
  for (const r of results) {
    const sent = videoFramesBefore(clip, r.sentBytes);
    // Durations compare what was sent (a prefix of the clip) with what was recorded.
    const s = sink.get(r.key);
    framesSent += sent;
    framesAtSink += s?.videoFrames ?? 0;
    secondsSent += sent / FPS;
    worstFrameRatio = Math.min(worstFrameRatio, (s?.videoFrames ?? 0) / Math.max(1, sent));
    worstDurationRatio = Math.min(worstDurationRatio, (s?.durationS ?? 0) / (sent / FPS));
    if (r.liveAt !== undefined && r.endedAt !== undefined && r.closeCode === 1000 && !r.failure) sessionsOk++;
  }
  const live = results.flatMap((r) => (r.startToLiveMs === undefined ? [] : [r.startToLiveMs]));
  const stopEnd = results.flatMap((r) => (r.stopToEndedMs === undefined ? [] : [r.stopToEndedMs]));
  const maxSlip = Math.max(0, ...results.map((r) => r.windowMaxSlipMs));
  const speeds = results.flatMap((r) => (r.stats.length > 0 ? [r.stats.at(-1).speed as number] : []));

  if (sessionsOk < n) {
    const codes = results.filter((r) => r.closeCode !== 1000 || r.failure).map((r) => r.errorCode ?? r.failure ?? r.closeCode);
    failures.push(`${n - sessionsOk}/${n} sessions did not end cleanly (${[...new Set(codes)].join(', ')})`);
  }
  if (worstFrameRatio < 0.99) failures.push(`a session lost frames (worst ${(worstFrameRatio * 100).toFixed(1)}% reached the sink)`);
  if (windowPauses > 0) failures.push(`FFmpeg's stdin backed up past the high-water mark ${windowPauses} time(s) in the window`);
  if (!(relayDelaySteady.p99 <= REAL_TIME_DELAY_P99_MS)) failures.push(`FFmpeg fell behind taking its input (relay delay p99 in the window ${Math.round(relayDelaySteady.p99)} ms)`);
  if (percentile(stopEnd, 95) > 2000) failures.push(`FFmpeg was behind at the end (stop→ended p95 ${Math.round(percentile(stopEnd, 95))} ms)`);
  if (maxSlip > 500) failures.push(`the publishers themselves fell behind (a chunk ${Math.round(maxSlip)} ms late in the window)`);
  if (leftover > 0) failures.push(`${leftover} FFmpeg process(es) still running after every session ended`);
  if (exitCode !== 0) failures.push(`the relay exited with ${exitCode}`);

  return {
    pipeline,
    n,
    usage,
    relayToFfmpegCpu: usage.parent.cpuPct / usage.ffmpeg.cpuPct,
    startToLive: { p50: percentile(live, 50), p95: percentile(live, 95), max: Math.max(...live) },
    relayDelay: delayStats(all),
    relayDelaySteady,
    backpressurePauses: pauses,
    stopToEnded: { p50: percentile(stopEnd, 50), p95: percentile(stopEnd, 95), max: Math.max(...stopEnd) },
    publisherMaxSlipMs: maxSlip,
    framesSent,
    framesAtSink,
    worstFrameRatio,
    secondsSent,
    worstDurationRatio,
    sessionsOk,
    ffmpegSpeed: median(speeds),
    realTime: failures.length === 0,
    failures,
  };
}
