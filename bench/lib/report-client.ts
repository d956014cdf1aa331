// The parts of bench/results.md about the browser client as a broadcaster meets it: click → live
// per capture path, and the WebCodecs path on a capped uplink. Each part was measured at its own
// time (BENCH_ONLY can refresh one alone), so each says when, and how loaded the machine was.
import type { GlassToIngest, GoLiveResults, ShapedUplinkResults, Spread, TargetVerdict } from './results.ts';
import { round } from './stats.ts';

const GO_LIVE_TARGET_MS = 1000;

/** Click → live p95 ≤ 1 s per capture path (issue #23 item 5). */
export function goLiveTargets(g: GoLiveResults | undefined): TargetVerdict[] {
  return (['webcodecs', 'mediarecorder'] as const).map((capture) => {
    const path = g?.paths.find((p) => p.capture === capture);
    return {
      target: `click "Go live" → \`live\` p95 ≤ 1.0 s on loopback (${capture})`,
      measured: path ? `${s(path.clickToLive.p95)} s over ${path.runs} runs` : 'not run',
      met: path ? path.clickToLive.p95 <= GO_LIVE_TARGET_MS : 'not measured',
    };
  });
}

export function goLiveSection(g: GoLiveResults | undefined): string[] {
  if (!g) return [];
  const cell = (x: Spread) => `${s(x.p50)} / ${s(x.p95)} / ${s(x.max)}`;
  return [
    '## Go live: click → `live` per capture path',
    '',
    `Measured ${when(g.measuredAt)} (load ${g.loadBefore.join(' / ')}) with \`BENCH_ONLY=go-live bun bench/run-bench.ts\`:`
    + ' the relay\'s own page (relay/public, served by a relay on 127.0.0.1) in Debian Chromium with its fake camera, a fresh browser context per run (cold cache),'
    + ' the page loaded, its preview playing and the form filled 1.5 s before the click; H.264, the path forced in the form. Times are the page\'s own: the click event\'s timestamp and the first moment the status panel shows each state.'
    + ' Seconds, p50 / p95 / max.',
    '',
    '| capture path | runs | click → live | click → connecting | connecting → ready | ready → live |',
    '|---|---:|---:|---:|---:|---:|',
    ...g.paths.map((p) => `| ${p.capture} | ${p.runs} | ${cell(p.clickToLive)} | ${cell(p.clickToConnecting)} | ${cell(p.connectingToReady)} | ${cell(p.readyToLive)} |`),
    '',
  ];
}

export function shapedSection(runs: ShapedUplinkResults[] | undefined, loopback: GlassToIngest[] | undefined): string[] {
  if (!runs || runs.length === 0) return [];
  return [
    '## WebCodecs on a capped uplink (shaped link)',
    '',
    ...runs.flatMap((u) => shapedRun(u, loopback)),
  ];
}

function shapedRun(u: ShapedUplinkResults, loopback: GlassToIngest[] | undefined): string[] {
  const ms = (v: number | undefined, phase: number) => (v === undefined ? `not within the ${u.phaseSeconds[phase]} s of the phase` : `${s(v)} s`);
  const webcodecs = loopback?.find((g) => g.capture === 'webcodecs');
  return [
    `### Client: ${u.client}`,
    '',
    `Measured ${when(u.measuredAt)} (load ${u.loadBefore.join(' / ')}) with \`BENCH_ONLY=shaped bun bench/run-bench.ts\` (root):`
    + ' Chromium broadcasts the glass-to-ingest time code (1280×720 canvas at 30 fps, noise around the code so that the encoder spends its whole bitrate; H.264 + Opus, WebCodecs path, starting at'
    + ` ${u.maxVideoBitsPerSecond / 1e6} Mbit/s, which is also the maximum) to a relay in a network namespace whose upload is capped by tbf`
    + ` (harness/shaped-link.ts, a 200 ms queue); the cap goes ${u.caps.join(' → ')} Mbit/s, held ${u.phaseSeconds.join(' / ')} s. How it works: [README.md](README.md#shaped-link).`,
    '',
    '| figure | measured |',
    '|---|---|',
    `| target read from | ${u.targetSource} |`,
    `| cap lowered to ${u.caps[2]} Mbit/s → video target below it | ${dropCell(u, ms(u.dropBelowCapMs, 2))} |`,
    `| cap back to ${u.caps[3]} Mbit/s → video target back at the maximum | ${u.leftMaximum ? ms(u.climbToMaxMs, 3) : 'the target never left the maximum'} |`,
    `| upload through the cap per phase (average) | ${u.uploadMbit.map((m) => `${round(m, 2)}`).join(' / ')} Mbit/s |`,
    `| recordings restarted (new \`ready\`) | ${u.restarts} |`,
    `| largest backlog in the browser's WebSocket | ${round(u.maxBufferedAmount / 1024, 0)} KiB |`,
    `| largest queue at the bottleneck / packets it dropped | ${round(u.maxBacklogBytes / 1024, 1)} KiB / ${u.droppedPackets} |`,
    `| how the broadcast ended | ${u.endedWith} |`,
    '',
    'Glass-to-ingest latency over the last 10 s of each phase (ms); the first row is the same run with a cap far above the stream, the last the loopback figure of the same path from the glass-to-ingest section (plain canvas, measured on its own):',
    '',
    '| window | p50 | p95 | max | frames read | unreadable |',
    '|---|---:|---:|---:|---:|---:|',
    ...u.latency.map((l) => `| ${l.label} | ${f0(l.p50)} | ${f0(l.p95)} | ${f0(l.max)} | ${l.samples} | ${l.unreadable} |`),
    webcodecs ? `| loopback, no link (glass-to-ingest section) | ${f0(webcodecs.p50)} | ${f0(webcodecs.p95)} | ${f0(webcodecs.max)} | ${webcodecs.samples} | ${webcodecs.unreadable} |` : '',
    '',
    `Video target over time (s after the cap was lowered → kbit/s): ${u.targetTrace.map(([t, v]) => `${round(t / 1000, 1)} → ${round(v / 1000, 0)}`).join(', ')}.`,
    '',
    ...u.notes.map((n) => `- ${n}`),
    ...(u.notes.length > 0 ? [''] : []),
  ];
}

/** A target already below the cap when it was lowered took no time, and the cell says why. */
function dropCell(u: ShapedUplinkResults, measured: string): string {
  if (u.dropBelowCapMs !== 0) return measured;
  // targetTrace's times count from the moment the cap was lowered.
  const before = [...u.targetTrace].reverse().find(([t]) => t <= 0);
  return before ? `already below it when the cap was lowered (target ${round(before[1] / 1000, 0)} kbit/s)` : measured;
}

function s(msValue: number): string {
  return Number.isFinite(msValue) ? (msValue / 1000).toFixed(2) : String(msValue);
}

function f0(v: number): string {
  return Number.isFinite(v) ? v.toFixed(0) : String(v);
}

function when(iso: string): string {
  return `${iso.slice(0, 16).replace('T', ' ')} UTC`;
}
