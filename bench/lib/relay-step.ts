import { readFileSync } from 'node:fs';
import type { RtmpServer } from '../../relay/test/support/rtmp-server.ts';
import type { Clip } from './media.ts';
import { videoFramesBefore } from './media.ts';
import { publish, type PublishResult } from './publisher.ts';
import { between, seededRandom } from './random.ts';
import { DELAY_PROBE, launchRelay } from './relay-launcher.ts';
import type { RelayStep } from './results.ts';
import { WindowSampler } from './sampler.ts';
import { checkRecordings } from './sink-step.ts';
import { median, percentile } from './stats.ts';

/** What every step shares. */
export interface StepEnv {
  rtmp: RtmpServer;
  /** The RTMP server's pids, for its CPU. */
  sinkPids: () => number[];
  allowedIngests: string;
  secret: string;
  token: string;
  rampMs: number;
  chunkMinMs: number;
  chunkMaxMs: number;
  /** A directory for the delay probe's file. */
  workDir: string;
  log: (line: string) => void;
}

/**
 * The measured window, the same for the relay and the baseline: it opens once every stream has
 * started and had 1.5 s to settle, and closes 0.5 s before the first stream runs out of media.
 */
export function windowBounds(env: StepEnv, clip: Clip): { openAfterMs: number; closeAfterMs: number } {
  return { openAfterMs: env.rampMs + 1500, closeAfterMs: clip.seconds * 1000 - 500 };
}

/** Chunk period of publisher `i`: drawn once per index, so the baseline feeds the same sizes. */
export function chunkMsFor(env: StepEnv, n: number, i: number): number {
  const rand = seededRandom(n * 1000 + i + 1);
  return between(rand, env.chunkMinMs, env.chunkMaxMs);
}

/** Runs N publishers through a fresh relay and measures it. */
export async function runRelayStep(env: StepEnv, clip: Clip, pipeline: 'copy' | 'transcode', n: number): Promise<RelayStep> {
  const delayFile = `${env.workDir}/delays-${pipeline}-${n}.jsonl`;
  await Bun.write(delayFile, '');
  const relay = await launchRelay({
    RELAY_AUTH_SECRET: env.secret,
    RELAY_ALLOWED_INGESTS: env.allowedIngests,
    RELAY_MAX_SESSIONS: String(n + 10),
    RELAY_MAX_TRANSCODES: String(n + 1),
    BENCH_DELAY_FILE: delayFile,
  }, [DELAY_PROBE]);
  const sampler = new WindowSampler(relay.pid, env.sinkPids);
  const { openAfterMs, closeAfterMs } = windowBounds(env, clip);
  const keys = Array.from({ length: n }, (_, i) => `bench_${pipeline}_${n}_${i}_${Date.now().toString(36)}`);
  const t0 = performance.now();
  const window = (async () => {
    await Bun.sleep(openAfterMs);
    sampler.begin();
    await Bun.sleep(closeAfterMs - openAfterMs);
    return sampler.end();
  })();
  const results: PublishResult[] = await Promise.all(keys.map(async (key, i) => {
    await Bun.sleep((i * env.rampMs) / n);
    return publish({
      wsUrl: relay.wsUrl,
      start: { type: 'start', token: env.token, ingest: env.rtmp.rtmpUrl, streamKey: key, mimeType: clip.mimeType },
      clip,
      chunkMs: chunkMsFor(env, n, i),
      closeTimeoutMs: 60_000,
    });
  }));
  const usage = await window;
  const leftover = relay.ffmpegChildren().length;
  const exitCode = await relay.stop();
  env.log(`  relay ${pipeline} n=${n}: streams done in ${((performance.now() - t0) / 1000).toFixed(1)} s; checking recordings`);

  const delays: number[] = [];
  let pauses = 0;
  for (const line of readFileSync(delayFile, 'utf8').split('\n')) {
    if (!line) continue;
    const rec = JSON.parse(line) as { us: number[]; pauses: number };
    for (const us of rec.us) delays.push(us / 1000);
    pauses += rec.pauses;
  }

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
    const s = sink.get(r.key);
    framesSent += sent;
    framesAtSink += s?.videoFrames ?? 0;
    secondsSent += (sent / clip.videoFrames) * clip.seconds;
    worstFrameRatio = Math.min(worstFrameRatio, (s?.videoFrames ?? 0) / Math.max(1, sent));
    worstDurationRatio = Math.min(worstDurationRatio, (s?.durationS ?? 0) / ((sent / clip.videoFrames) * clip.seconds));
    if (r.liveAt !== undefined && r.endedAt !== undefined && r.closeCode === 1000 && !r.failure) sessionsOk++;
  }
  const live = results.flatMap((r) => (r.startToLiveMs === undefined ? [] : [r.startToLiveMs]));
  const stopEnd = results.flatMap((r) => (r.stopToEndedMs === undefined ? [] : [r.stopToEndedMs]));
  const maxSlip = Math.max(0, ...results.map((r) => r.maxSlipMs));
  const speeds = results.flatMap((r) => (r.stats.length > 0 ? [r.stats.at(-1).speed as number] : []));

  if (sessionsOk < n) {
    const codes = results.filter((r) => r.closeCode !== 1000 || r.failure).map((r) => r.errorCode ?? r.failure ?? r.closeCode);
    failures.push(`${n - sessionsOk}/${n} sessions did not end cleanly (${[...new Set(codes)].join(', ')})`);
  }
  if (worstFrameRatio < 0.99) failures.push(`a session lost frames (worst ${(worstFrameRatio * 100).toFixed(1)}% reached the sink)`);
  if (pauses > 0) failures.push(`FFmpeg's stdin backed up past the high-water mark ${pauses} time(s)`);
  if (percentile(stopEnd, 95) > 2000) failures.push(`FFmpeg was behind at the end (stop→ended p95 ${Math.round(percentile(stopEnd, 95))} ms)`);
  if (maxSlip > 1000) failures.push(`the publishers themselves fell behind (a chunk ${Math.round(maxSlip)} ms late)`);
  if (leftover > 0) failures.push(`${leftover} FFmpeg process(es) still running after every session ended`);
  if (exitCode !== 0) failures.push(`the relay exited with ${exitCode}`);

  return {
    pipeline,
    n,
    usage,
    relayToFfmpegCpu: usage.parent.cpuPct / usage.ffmpeg.cpuPct,
    startToLive: { p50: percentile(live, 50), p95: percentile(live, 95), max: Math.max(...live) },
    relayDelay: { p50: percentile(delays, 50), p99: percentile(delays, 99), max: Math.max(...delays), samples: delays.length },
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
