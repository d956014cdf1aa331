// `npx projen bench` → `bun bench/run-bench.ts`: the relay's benchmark (not a test).
// Steps N synthetic publishers up through a fresh relay into nginx-rtmp on loopback until real
// time fails, with FFmpeg alone as the baseline at every step, then writes bench/results.md,
// bench/results.json and bench/chart.svg. Before the steps, while nothing else of it runs, real Chromium
// measures glass-to-ingest latency per capture path. Settings: BENCH_* variables, see bench/README.md.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRtmpServer } from '../harness/rtmp-server.ts';
import { makeToken } from '../harness/token.ts';
import { runBaselineStep } from './lib/baseline-step.ts';
import { writeChart } from './lib/chart.ts';
import { copyCostBreakdown, type CostBreakdown } from './lib/cost-breakdown.ts';
import { measureGlassToIngest } from './lib/glass-latency.ts';
import { measureGoLive } from './lib/go-live.ts';
import { makeClip } from './lib/media.ts';
import { benchOptions, type BenchPart } from './lib/options.ts';
import { childrenOf, loadAverage } from '../harness/proc.ts';
import { machineInfo } from './lib/machine.ts';
import { clipSecondsFor, runRelayStep, type StepEnv } from './lib/relay-step.ts';
import { judgeTargets, writeMarkdown } from './lib/report.ts';
import type { BenchResults, GlassToIngest, GoLiveResults, RelayStep, ShapedUplinkResults } from './lib/results.ts';
import { measureShapedUplink } from './lib/shaped-uplink.ts';

const opts = benchOptions(import.meta.dir);
/** Whether this run measures `part` (BENCH_ONLY picks some; the others keep the last results.json's figures). */
const runs = (part: BenchPart) => !opts.only || opts.only.has(part);
const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const startedAt = new Date();
const loadBefore = loadAverage();
const machine = await machineInfo();
log(`machine: ${machine.cores} cores, ${machine.cpuModel}; load ${loadBefore.join(' ')}`);
if (runs('steps')) log(`steps: copy ${opts.copySteps.join(',')}, full copy ${opts.fullCopySteps.join(',')} (${opts.stepSeconds} s), transcode ${opts.transcodeSteps.join(',')} (${opts.transcodeSeconds} s)`);

const workDir = await mkdtemp(join(tmpdir(), 'relay-bench-'));
const rtmp = await startRtmpServer();
const secret = `bench-secret-${crypto.randomUUID()}`;
const port = rtmp.port;
const env: StepEnv = {
  rtmp,
  // nginx runs as one process (master_process off) whose parent is this harness.
  sinkPids: () => childrenOf(process.pid, 'nginx').map((p) => p.pid),
  allowedIngests: `rtmp://127.0.0.1:${port}`,
  secret,
  // One token for every publisher: verification cost is the same, and signing is not the relay's.
  token: await makeToken(secret, { expiresIn: '2h' }),
  rampPerSessionMs: opts.rampPerSessionMs,
  rampMinMs: opts.rampMinMs,
  stepSeconds: opts.stepSeconds,
  chunkMinMs: opts.chunkMinMs,
  chunkMaxMs: opts.chunkMaxMs,
  workDir,
  log,
};

const copy: RelayStep[] = [];
const fullCopy: RelayStep[] = [];
const transcode: RelayStep[] = [];
let copyCost: CostBreakdown | undefined;
let glassToIngest: GlassToIngest[] | undefined;
let goLive: GoLiveResults | undefined;
let shapedUplink: ShapedUplinkResults[] | undefined;
try {
  // First, while nothing else runs: one browser stream is a light load, and the figure should not
  // carry the queueing of a loaded machine.
  if (opts.glass && runs('glass')) {
    glassToIngest = await measureGlassToIngest({
      rtmp, allowedIngests: env.allowedIngests, secret, token: env.token, seconds: opts.glassSeconds, log,
    });
    for (const g of glassToIngest) {
      log(`glass-to-ingest ${g.capture} (${g.mimeType}, ${g.pipeline}): p50 ${g.p50.toFixed(0)} ms, p95 ${g.p95.toFixed(0)} ms, max ${g.max.toFixed(0)} ms`
        + ` over ${g.samples} frames (${g.fps.toFixed(1)} fps), ${g.unreadable} unreadable`);
    }
  }
  // Then, still on an idle machine: click → live per capture path, and the WebCodecs path on a capped uplink.
  if (opts.goLiveRuns > 0 && runs('go-live')) {
    const loadAt = loadAverage();
    const measuredAt = new Date().toISOString();
    const paths = await measureGoLive({ rtmp, allowedIngests: env.allowedIngests, secret, token: env.token, runs: opts.goLiveRuns, log });
    goLive = { measuredAt, loadBefore: loadAt, paths };
    for (const p of goLive.paths) {
      log(`go-live ${p.capture}: click → live p50 ${p.clickToLive.p50.toFixed(0)} ms, p95 ${p.clickToLive.p95.toFixed(0)} ms over ${p.runs} runs`);
    }
  }
  if (opts.shaped && runs('shaped')) {
    const u = await measureShapedUplink({ secret, token: env.token, log });
    shapedUplink = [u];
    log(`shaped uplink, ${u.client} (${u.targetSource}): below the cap after ${u.dropBelowCapMs ?? 'never'} ms, back at the maximum after ${u.climbToMaxMs ?? 'never'} ms;`
      + ` latency ${u.latency.map((l) => `${l.label}: p50 ${l.p50.toFixed(0)} p95 ${l.p95.toFixed(0)} ms`).join('; ')}`);
  }
  if (runs('steps')) {
    // One clip long enough for the largest step's ramp plus the steady part; publishers stream a prefix.
    const h264 = await makeClip('h264', clipSecondsFor(env, Math.max(1, ...opts.copySteps)));
    const h264Aac = await makeClip('h264-aac', clipSecondsFor(env, Math.max(1, ...opts.fullCopySteps)));
    const transcodeEnv = { ...env, stepSeconds: opts.transcodeSeconds };
    const vp8 = opts.transcodeSteps.length > 0 ? await makeClip('vp8', clipSecondsFor(transcodeEnv, Math.max(...opts.transcodeSteps))) : h264;
    copyCost = await copyCostBreakdown(h264, workDir);
    log(`copy pipeline cost per stream, unpaced: ${copyCost.whole.toFixed(2)}% of a core (video copy ${copyCost.videoCopyOnly.toFixed(2)}%, Opus→AAC ${copyCost.audioToAacOnly.toFixed(2)}%;`
      + ` each further destination +${copyCost.perFurtherDestination.toFixed(2)}%)`);
    for (const [pipeline, steps, clip, out] of [
      ['copy', opts.copySteps, h264, copy],
      ['full-copy', opts.fullCopySteps, h264Aac, fullCopy],
      ['transcode', opts.transcodeSteps, vp8, transcode],
    ] as const) {
      let failuresLeft = opts.stepsAfterFailure;
      const run = async (n: number, baseline: boolean) => {
        log(`${pipeline} n=${n}: relay`);
        const stepEnv = pipeline === 'transcode' ? transcodeEnv : env;
        const step = await runRelayStep(stepEnv, clip, pipeline, n);
        if (baseline) {
          log(`${pipeline} n=${n}: FFmpeg alone`);
          step.baseline = await runBaselineStep(stepEnv, clip, n);
        }
        out.push(step);
        out.sort((a, b) => a.n - b.n);
        log(`${pipeline} n=${n}: relay ${step.usage.parent.cpuPct.toFixed(1)}% ${step.usage.parent.rssMiB.toFixed(0)} MiB, ffmpeg ${(step.usage.ffmpeg.cpuPct / n).toFixed(1)}%/stream`
          + `${step.baseline ? ` (alone ${(step.baseline.usage.ffmpeg.cpuPct / n).toFixed(1)}%)` : ''}, live p95 ${step.startToLive.p95.toFixed(0)} ms,`
          + ` delay p99 ${step.relayDelay.p99.toFixed(2)} ms, machine ${step.usage.machineBusyPct.toFixed(0)}% busy: `
          + `${step.realTime ? 'real time held' : `real time FAILED: ${step.failures.join('; ')}`}`);
        return step.realTime;
      };
      for (const n of steps) {
        if (!(await run(n, opts.baseline)) && failuresLeft-- <= 0) break;
      }
      // Between the last N that held and the first that failed, a few more steps (without the
      // baseline, to save time) narrow down where real time breaks.
      for (let i = 0; i < opts.refine; i++) {
        const lo = Math.max(0, ...out.filter((s) => s.realTime).map((s) => s.n));
        const hi = Math.min(...out.filter((s) => !s.realTime && s.n > lo).map((s) => s.n));
        if (!Number.isFinite(hi) || hi - lo < 2 || lo === 0) break;
        await run(Math.round((lo + hi) / 2), false);
      }
    }
  }
} finally {
  await rtmp.stop();
  await rm(workDir, { recursive: true, force: true });
}

const fresh: BenchResults = {
  startedAt: startedAt.toISOString(),
  finishedAt: new Date().toISOString(),
  machine,
  loadBefore,
  loadAfter: loadAverage(),
  settings: { ...opts, outDir: undefined, clip: '1280x720 30 fps testsrc2, H.264 (x264 ultrafast) or VP8 (libvpx realtime) at 2500 kb/s + Opus 96 kb/s (full copy: H.264 + AAC 128 kb/s in 250 ms MP4 fragments)' },
  copy,
  fullCopy,
  transcode,
  copyCost,
  glassToIngest,
  goLive,
  shapedUplink,
  targets: [],
  notes: [],
};
const results = opts.only ? await mergeWithLast(fresh) : fresh;
results.targets = judgeTargets(results);
await Bun.write(join(opts.outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
await Bun.write(join(opts.outDir, 'results.md'), writeMarkdown(results));
await Bun.write(join(opts.outDir, 'chart.svg'), writeChart(results));
log(`wrote ${join(opts.outDir, 'results.md')}, results.json, chart.svg in ${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s`);
for (const t of results.targets) log(`${t.met === true ? 'MET ' : t.met === false ? 'MISS' : t.met === 'n/a' ? '    ' : '??  '} ${t.target}: ${t.measured}`);

/**
 * With BENCH_ONLY: the parts not run keep their figures (and the steps their header: date, machine,
 * load, settings) from the last results.json, so that results.md stays whole.
 */
async function mergeWithLast(r: BenchResults): Promise<BenchResults> {
  const file = Bun.file(join(opts.outDir, 'results.json'));
  if (!(await file.exists())) return r;
  const last = (await file.json()) as BenchResults;
  const merged: BenchResults = runs('steps') ? { ...r } : {
    ...r,
    startedAt: last.startedAt,
    finishedAt: last.finishedAt,
    machine: last.machine,
    loadBefore: last.loadBefore,
    loadAfter: last.loadAfter,
    settings: { ...last.settings, glassSeconds: runs('glass') ? r.settings.glassSeconds : last.settings.glassSeconds },
    copy: last.copy,
    fullCopy: last.fullCopy,
    transcode: last.transcode,
    copyCost: last.copyCost,
    notes: last.notes,
  };
  if (!runs('glass')) merged.glassToIngest = last.glassToIngest;
  if (!runs('go-live')) merged.goLive = last.goLive;
  // Another client's capped-uplink figures stay beside this one's.
  const others = (last.shapedUplink ?? []).filter((u) => !r.shapedUplink?.some((n) => n.client === u.client));
  merged.shapedUplink = [...others, ...(r.shapedUplink ?? [])];
  return merged;
}
