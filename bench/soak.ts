// `npx projen soak` → `bun bench/soak.ts`: the relay's soak run (not a test). 20 sessions for
// 10 minutes with a fault every few seconds, then asserts: no zombie or orphan FFmpeg, relay RSS
// growth < 10% after warm-up, a valid recording from every session no fault hit, and the right
// close code for every one a fault hit. Exit code 1 when anything is violated.
// Settings: SOAK_SESSIONS, SOAK_SECONDS, SOAK_CLIP_SECONDS, SOAK_FAULT_EVERY_MS, SOAK_WARMUP_SECONDS, SOAK_SEED.
import { join } from 'node:path';
import { loadAverage } from '../harness/proc.ts';
import { machineInfo } from './lib/machine.ts';
import { EXPECTED, type FaultKind } from './lib/soak-faults.ts';
import { runSoak } from './lib/soak.ts';

const env = (name: string, def: number) => {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? def : Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: expected a positive number, got "${raw}"`);
  return n;
};
const seconds = env('SOAK_SECONDS', 600);
const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
// The summary is also written to soak-results.md (SOAK_OUT_DIR, default bench/).
const summary: string[] = [];
const say = (line: string) => {
  summary.push(line);
  log(line);
};
const startedAt = new Date();
const loadBefore = loadAverage();
const report = await runSoak({
  sessions: env('SOAK_SESSIONS', 20),
  durationMs: seconds * 1000,
  clipSeconds: env('SOAK_CLIP_SECONDS', 30),
  faultEveryMs: env('SOAK_FAULT_EVERY_MS', 8000),
  firstFaultAtMs: 5000,
  warmupMs: env('SOAK_WARMUP_SECONDS', Math.min(120, seconds / 4)) * 1000,
  mediaTimeoutMs: 4000,
  flakySlots: Math.max(1, Math.round(env('SOAK_SESSIONS', 20) / 6)),
  seed: env('SOAK_SEED', Date.now() % 1e9),
  log,
});

const by = (f: (s: (typeof report.sessions)[number]) => boolean) => report.sessions.filter(f).length;
say(`soak over after ${report.seconds.toFixed(0)} s: ${report.sessions.length} sessions, ${by((s) => !s.fault)} without a fault`
  + ` (${by((s) => !s.fault && !!s.recording?.ok)} valid recordings), ${by((s) => !!s.fault)} hit by a fault`);
const kinds = new Map<string, number>();
for (const s of report.sessions) if (s.fault) kinds.set(s.fault, (kinds.get(s.fault) ?? 0) + 1);
for (const kind of kinds.keys()) {
  const codes = new Map<string, number>();
  for (const s of report.sessions.filter((x) => x.fault === kind)) {
    const c = `${s.closeCode ?? 'none'}${s.errorCode ? ` ${s.errorCode}` : ''}`;
    codes.set(c, (codes.get(c) ?? 0) + 1);
  }
  const want = EXPECTED[kind as FaultKind];
  say(`${kind}: ${kinds.get(kind)} session(s), closes ${[...codes].map(([c, n]) => `${c} ×${n}`).join(', ')} (expected ${want.closeCode}${want.code ? ` ${want.code}` : ''})`);
}
for (const s of report.sessions.filter((x) => x.fault)) {
  log(`  ${s.fault}: ${s.key} → close ${s.closeCode ?? 'none'} ${s.errorCode ?? ''} (seen by ${s.closeSeenBy ?? 'nobody'})${s.recording ? `, recording ${s.recording.detail}` : ''}`);
}
for (const f of report.faults.filter((x) => x.skipped)) say(`skipped fault at t=${f.atS}s: ${f.kind} (${f.skipped})`);
say(`FFmpeg: ${report.watch.seen} started, at most ${report.watch.maxChildren} at once, ${report.watch.zombies.length} lingering zombies, ${report.watch.orphans.length} orphans, ${report.survivors.length} survivors`);
say(`relay RSS floor ${report.rss.warmMiB.toFixed(1)} MiB after warm-up (t=${report.rss.fromS}s) → ${report.rss.endMiB.toFixed(1)} MiB at the end (${(report.rss.growth * 100).toFixed(1)}%)`);
if (report.violations.length > 0) {
  say(`FAILED: ${report.violations.length} violation(s)`);
  for (const v of report.violations) say(`  ${v}`);
} else {say('PASSED: every soak property held');}

const m = await machineInfo();
const o = report.options;
const md = [
  '# Relay soak results',
  '',
  `Written by \`npx projen soak\` (\`bun bench/soak.ts\`) on ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC; what it does and asserts: [README.md](README.md#soak).`,
  '',
  `**Machine:** ${m.cores} cores, ${m.cpuModel}, Bun ${m.bun}, FFmpeg ${m.ffmpeg}. **Load average** before: ${loadBefore.join(' / ')}; after: ${loadAverage().join(' / ')}.`,
  `**Settings:** ${o.sessions} sessions, ${o.durationMs / 1000} s, ${o.clipSeconds} s clips, a fault every ${o.faultEveryMs / 1000} s, warm-up ${o.warmupMs / 1000} s, seed ${o.seed}.`,
  '',
  '```',
  ...summary,
  '```',
  '',
].join('\n');
await Bun.write(join(process.env.SOAK_OUT_DIR ?? import.meta.dir, 'soak-results.md'), md);
if (report.violations.length > 0) process.exit(1);
