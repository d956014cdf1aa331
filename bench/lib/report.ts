import { goLiveSection, goLiveTargets, shapedSection } from './report-client.ts';
import type { BenchResults, GlassToIngest, RelayStep, TargetVerdict } from './results.ts';
import { round } from './stats.ts';

const MIB_BASE = 64;

/** Judges the targets (issues 7 and 13) against the figures, honestly: a target with no data is not met. */
export function judgeTargets(r: BenchResults): TargetVerdict[] {
  const held = r.copy.filter((s) => s.realTime);
  const maxCopy = Math.max(0, ...held.map((s) => s.n));
  const triedAbove60 = r.copy.some((s) => s.n >= 60);
  const worst = (steps: RelayStep[], f: (s: RelayStep) => number): { step?: RelayStep; value: number } => {
    let step: RelayStep | undefined;
    for (const s of steps) if (!step || f(s) > f(step)) step = s;
    return { step, value: step ? f(step) : Number.NaN };
  };
  const cpu = worst(held, (s) => s.relayToFfmpegCpu);
  const live = worst(held, (s) => s.startToLive.p95);
  const delay = worst(held, (s) => s.relayDelay.p99);
  const steady = worst(held, (s) => s.relayDelaySteady.p99);
  const rss = worst(held, (s) => s.usage.parent.rssPeakMiB - (MIB_BASE + s.n));
  const maxT = Math.max(0, ...r.transcode.filter((s) => s.realTime).map((s) => s.n));
  const full = r.fullCopy ?? [];
  const maxFull = Math.max(0, ...full.filter((s) => s.realTime).map((s) => s.n));
  const at = (w: { step?: RelayStep }) => (w.step ? ` (worst at N=${w.step.n})` : '');
  return [
    {
      target: 'full copy (H.264 + AAC input) ≥ 150 concurrent real-time streams',
      measured: full.length === 0 ? 'not run' : `real time held up to N=${maxFull}${full.some((s) => !s.realTime) ? `, failed at N=${full.find((s) => !s.realTime)!.n}` : ' (the largest step tried)'}`,
      met: full.length === 0 ? 'not measured' : maxFull >= 150 ? true : full.some((s) => s.n >= 150) || full.some((s) => !s.realTime) ? false : 'not measured',
    },
    {
      target: 'copy pipeline ≥ 60 concurrent real-time streams',
      measured: held.length === 0 ? 'no step held real time' : `real time held up to N=${maxCopy}${r.copy.some((s) => !s.realTime) ? `, failed at N=${r.copy.find((s) => !s.realTime)!.n}` : ' (the largest step tried)'}`,
      met: maxCopy >= 60 ? true : triedAbove60 || held.length === 0 || r.copy.some((s) => !s.realTime) ? false : 'not measured',
    },
    {
      target: "relay's own CPU ≤ 10% of its FFmpeg children's (copy)",
      measured: `${round(cpu.value * 100, 1)}%${at(cpu)}; over 10% at ${held.filter((s) => s.relayToFfmpegCpu > 0.1).map((s) => `N=${s.n}`).join(', ') || 'no step'}`,
      met: held.length > 0 && cpu.value <= 0.1,
    },
    {
      target: '`start` → `live` p95 ≤ 1.0 s (copy)',
      measured: `${round(live.value / 1000, 2)} s${at(live)}`,
      met: held.length > 0 && live.value <= 1000,
    },
    {
      target: 'relay delay p99 ≤ 20 ms (copy)',
      measured: `${round(delay.value, 2)} ms${at(delay)} over every frame of a step; ${round(steady.value, 2)} ms${at(steady)} in the steady window`,
      met: held.length > 0 && delay.value <= 20,
    },
    {
      target: 'relay RSS ≤ 64 MiB + 1 MiB per session (copy)',
      measured: rss.step
        ? `tightest at N=${rss.step.n}: peak ${round(rss.step.usage.parent.rssPeakMiB, 0)} MiB against a limit of ${MIB_BASE + rss.step.n} MiB (${round(Math.abs(rss.value), 0)} MiB ${rss.value <= 0 ? 'under' : 'over'})`
        : 'no data',
      met: held.length > 0 && rss.value <= 0,
    },
    {
      target: 'transcode pipeline: sessions per core in real time at 720p30',
      measured: r.transcode.length === 0 ? 'not run' : `${maxT} sessions on ${r.machine.cores} cores = ${round(maxT / r.machine.cores, 2)} per core`,
      met: 'n/a',
    },
    ...goLiveTargets(r.goLive),
  ];
}

const f = (n: number, d = 1) => (Number.isFinite(n) ? String(round(n, d)) : '–');

function resourceRows(steps: RelayStep[], cores: number): string[] {
  return steps.map((s) => {
    const u = s.usage;
    const b = s.baseline?.usage;
    const overhead = b ? (u.parent.cpuPct + u.ffmpeg.cpuPct) / b.ffmpeg.cpuPct : Number.NaN;
    // CPU no process of the benchmark used: something else running on the machine.
    const other = Math.max(0, (u.machineBusyPct / 100) * cores * 100 - u.parent.cpuPct - u.ffmpeg.cpuPct - u.sink.cpuPct - u.harness.cpuPct);
    return `| ${s.n} | ${s.realTime ? 'yes' : '**no**'} | ${f(u.parent.cpuPct)} | ${f(u.parent.rssMiB, 0)} / ${f(u.parent.rssPeakMiB, 0)} | ${f(u.ffmpeg.cpuPct)} | ${f(u.ffmpeg.cpuPct / s.n, 2)} | ${f(u.ffmpeg.rssMiB / s.n, 1)} / ${f((u.ffmpeg.pssMiB ?? Number.NaN) / s.n, 1)} | ${b ? f(b.ffmpeg.cpuPct / s.n, 2) : '–'} | ${f(s.relayToFfmpegCpu * 100)}% | ${f(overhead, 2)}× | ${f(u.sink.cpuPct)} | ${f(u.harness.cpuPct)} | ${f(u.machineBusyPct, 0)}% | ${f(other, 0)} |`;
  });
}

function latencyRows(steps: RelayStep[]): string[] {
  return steps.map((s) => `| ${s.n} | ${s.sessionsOk}/${s.n} | ${f(s.startToLive.p50, 0)} / ${f(s.startToLive.p95, 0)} | ${f(s.relayDelay.p50, 2)} / ${f(s.relayDelay.p99, 2)} / ${f(s.relayDelay.max, 1)} | ${f(s.relayDelaySteady.p99, 2)} | ${s.baseline ? `${f(s.baseline.pipeDelay.p99, 2)} / ${f(s.baseline.pipeDelaySteady.p99, 2)}` : '–'} | ${s.backpressurePauses} | ${f(s.stopToEnded.p50, 0)} / ${f(s.stopToEnded.p95, 0)} | ${s.framesAtSink} / ${s.framesSent} (worst ${f(s.worstFrameRatio * 100, 1)}%) | ${f(s.worstDurationRatio * 100, 1)}% | ${f(s.ffmpegSpeed, 2)} | ${f(s.publisherMaxSlipMs, 0)} | ${s.baseline ? `${s.baseline.realTime ? 'yes' : '**no**'} (${s.baseline.framesAtSink}/${s.baseline.framesSent})` : '–'} | ${s.failures.join('; ') || '–'} |`);
}

function tables(title: string, steps: RelayStep[], cores: number): string[] {
  if (steps.length === 0) return [];
  return [
    `### ${title}: resources (measured window of each step)`,
    '',
    '| N | real time | relay CPU % | relay RSS MiB mean / peak | FFmpeg children CPU % | … per stream | FFmpeg RSS / PSS MiB per stream | FFmpeg alone CPU % per stream | relay / children CPU | (relay + children) / alone | nginx CPU % | publishers CPU % | machine busy | other CPU % |',
    '|---:|:---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...resourceRows(steps, cores),
    '',
    `### ${title}: latency and delivery`,
    '',
    '| N | sessions ok | start→live ms p50 / p95 | relay delay ms p50 / p99 / max | relay delay p99 ms in the window | FFmpeg alone pipe delay p99 ms, all / in the window | backpressure pauses | stop→ended ms p50 / p95 | video frames at sink / sent | worst duration at sink / sent | FFmpeg speed | publisher max slip ms (window) | FFmpeg alone real time | why real time failed |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---|',
    ...latencyRows(steps),
    '',
  ];
}

function glassSection(rows: GlassToIngest[] | undefined, seconds: unknown): string[] {
  if (!rows || rows.length === 0) return [];
  return [
    '## Glass-to-ingest latency per capture path',
    '',
    'One broadcast at a time, before the steps, with nothing else of the benchmark running: Chromium draws `Date.now()` into every frame of a 1280×720 canvas captured at 30 fps (plus a WebAudio tone),'
    + ' the real client sends it through a fresh relay (copy pipeline) to nginx, and a low-delay FFmpeg player reads the stamp back from each frame it decodes:'
    + ` arrival − stamp, over ${String(seconds)} s per path after 3 s of warm-up. Included and excluded: [README.md](README.md#glass-to-ingest-latency).`,
    '',
    '| capture path | announced mimeType | relay pipeline | min ms | p50 ms | p95 ms | max ms | frames read | unreadable | repeated | frames/s at the player |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((g) => `| ${g.capture} | \`${g.mimeType}\` | ${g.pipeline} | ${f(g.min, 0)} | ${f(g.p50, 0)} | ${f(g.p95, 0)} | ${f(g.max, 0)} | ${g.samples} | ${g.unreadable} | ${g.repeated} | ${f(g.fps, 1)} |`),
    '',
  ];
}

/** bench/results.md. */
export function writeMarkdown(r: BenchResults): string {
  const m = r.machine;
  const s = r.settings as Record<string, any>;
  return [
    '# Relay benchmark results',
    '',
    `Written by \`npx projen bench\` (\`bun bench/run-bench.ts\`) on ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC; how to run it and what every column means: [README.md](README.md).`,
    '',
    `**Machine:** ${m.cores} cores, ${m.cpuModel}, ${m.memoryGiB} GiB, Linux ${m.kernel}, Bun ${m.bun}, FFmpeg ${m.ffmpeg}.`,
    `**Load average** (1/5/15 min) before the run: ${r.loadBefore.join(' / ')}; after: ${r.loadAfter.join(' / ')}.`,
    `**Media:** ${s.clip}. Copy steps: ${s.stepSeconds} s with all N streaming, transcode steps ${s.transcodeSeconds} s;`
    + ` publishers start evenly over max(${s.rampMinMs} ms, N × ${s.rampPerSessionMs} ms), then all stream together for that long and stop together;`
    + ` each sends one chunk every ${s.chunkMinMs}–${s.chunkMaxMs} ms (drawn per publisher), holding exactly the media recorded in that timeslice.`,
    '',
    '![CPU per stream and relay delay versus N](chart.svg)',
    '',
    '## Targets',
    '',
    '| target | measured | met |',
    '|---|---|:---:|',
    ...r.targets.map((t) => `| ${t.target} | ${t.measured} | ${t.met === 'n/a' ? 'reported' : t.met === 'not measured' ? 'not measured' : t.met ? 'yes' : '**no**'} |`),
    '',
    'Latency, CPU and RSS targets are judged over the steps where real time held.',
    '',
    ...glassSection(r.glassToIngest, s.glassSeconds),
    ...goLiveSection(r.goLive),
    ...shapedSection(r.shapedUplink, r.glassToIngest),
    '## Copy pipeline (H.264 + Opus Matroska → FLV H.264 copy + AAC)',
    '',
    ...tables('Copy', r.copy, m.cores),
    '## Full copy (H.264 + AAC fragmented MP4 → FLV, both streams copied)',
    '',
    ...tables('Full copy', r.fullCopy ?? [], m.cores),
    '## Transcode pipeline (VP8 + Opus WebM → FLV H.264 libx264 veryfast + AAC)',
    '',
    ...tables('Transcode', r.transcode, m.cores),
    '## Notes',
    '',
    '- *Relay delay* is measured inside the relay process by its delay trace (`RELAY_DELAY_TRACE_FILE`, `relay/src/delay-trace.ts`):'
    + ' from the moment the WebSocket handler hands a media frame to its session until FFmpeg\'s stdin pipe has accepted the whole frame. Time spent in the kernel before Bun reads the socket is not included.',
    '- Relay delay p50 / p99 / max is over every frame of the step, ramp included (a frame bigger than the 64 KiB pipe buffer, e.g. a 250 ms timeslice at 2.6 Mb/s, waits for its FFmpeg to start; and N FFmpeg start-ups load the machine). *In the window* is the steady state only: every session streaming, none starting. *FFmpeg alone pipe delay* is the same measurement in the baseline harness (write → pipe took it): what FFmpeg\'s own reading pace costs without a relay.',
    '- *start→live* is measured by the publisher, from sending `start` to receiving `live`; like a browser\'s, it includes waiting for the first timeslice of media.',
    '- CPU is from /proc tick counters at both ends of each step\'s window (percent of one core); RSS is sampled every second. The baseline (FFmpeg alone) runs with the relay\'s own arguments (`ffmpegArgs` of `relay/src/pipeline.ts`), fed by the harness exactly like the relay feeds it.',
    '- The publishers, nginx and the relay share the machine; their CPU is shown so that a saturated machine is visible.',
    ...(r.copyCost
      ? [`- Where a copy stream's CPU goes (FFmpeg reading the clip from a file as fast as it can, rusage, best of 3): the whole copy pipeline costs ${round(r.copyCost.whole, 2)}% of a core per second of media;`
        + ` copying the video alone ${round(r.copyCost.videoCopyOnly, 2)}%, Opus → AAC alone ${round(r.copyCost.audioToAacOnly, 2)}%. The audio transcode the pipeline requires (docs/pipeline.md#copy-pipeline), not the relay, is what bounds the copy pipeline's stream count.`,
      `- A second destination (docs/pipeline.md#several-destinations) adds a publisher copying the encoder's FLV: ${round(r.copyCost.perFurtherDestination, 2)}% of a core per second of media for each further destination.`]
      : []),
    ...r.notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
}
