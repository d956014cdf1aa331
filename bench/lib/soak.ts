import { loadClip } from './media.ts';
import { ProcessWatch, type WatchFindings } from './process-watch.ts';
import { seededRandom } from './random.ts';
import { EXPECTED, FAULT_CYCLE, judgeSession, PLANNED, type FaultKind, type SessionRecord } from './soak-faults.ts';
import { runSession, type SessionContext } from './soak-session.ts';
import { makeTestMedia } from '../../harness/clips.ts';
import { waitRelayIdle } from '../../harness/relay-fixture.ts';
import { startRelay, type RelayProcess } from '../../harness/relay-process.ts';
import { startRtmpServer, type RtmpServer } from '../../harness/rtmp-server.ts';
import { makeToken } from '../../harness/token.ts';

/** How long and how hard to soak. */
export interface SoakOptions {
  /** Concurrent sessions (slots, each starting a new session when its last one ends). */
  sessions: number;
  durationMs: number;
  /** Length of each session's media; sessions last about this long. */
  clipSeconds: number;
  /** One fault every this many ms, cycling through every kind. */
  faultEveryMs: number;
  /**
   * Past `durationMs` the load goes on, up to this, while some fault kind has hit no session yet (on
   * a busy machine sessions start later and planned faults find no session). Default `durationMs`.
   */
  maxDurationMs?: number;
  firstFaultAtMs: number;
  /**
   * RSS growth is measured from the end of this period (or later: once every fault kind has
   * happened once, see {@link rssGrowth}) to the end of the load.
   */
  warmupMs: number;
  /** RELAY_MEDIA_TIMEOUT_MS: how long a frozen client takes to be dropped. */
  mediaTimeoutMs: number;
  /** Slots publishing to the RTMP server that gets restarted. */
  flakySlots: number;
  seed: number;
  log: (line: string) => void;
}

/** A fault as injected. */
export interface FaultEvent {
  atS: number;
  kind: FaultKind;
  /** Sessions it hit. */
  keys: string[];
  /** Why it was not injected, if it was not. */
  skipped?: string;
}

/** Everything a soak run observed, and what it violated. */
export interface SoakReport {
  options: Omit<SoakOptions, 'log'>;
  seconds: number;
  sessions: SessionRecord[];
  faults: FaultEvent[];
  watch: WatchFindings;
  /** FFmpeg children still there once every session had ended. */
  leftoverChildren: number;
  /** FFmpeg processes of the relay still alive after the relay exited. */
  survivors: number[];
  relayExitCode: number;
  healthAfter: unknown;
  /** The relay's RSS floor in the first window after warm-up and in the last window of the load. */
  rss: { warmMiB: number; endMiB: number; growth: number; samples: number; fromS: number };
  violations: string[];
}

const MAX_MESSAGE_BYTES = 1024 * 1024;
const RSS_GROWTH_LIMIT = 0.1;

/**
 * Runs the soak: `sessions` publishers for `durationMs` through one relay into two nginx-rtmp
 * servers (one gets restarted), injecting a fault every `faultEveryMs`, then checks processes,
 * memory, recordings and close codes. Leaves nothing running.
 */
export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const rand = seededRandom(opts.seed);
  const secret = `soak-secret-${crypto.randomUUID()}`;
  const servers: RtmpServer[] = [];
  let relay: RelayProcess | undefined;
  let watch: ProcessWatch | undefined;
  try {
    const main = await startRtmpServer();
    servers.push(main);
    const flaky = await startRtmpServer();
    servers.push(flaky);
    const portOf = (s: RtmpServer) => s.port;
    relay = await startRelay({
      RELAY_SERVE_PAGE: 'off',
      RELAY_AUTH_SECRET: secret,
      RELAY_ALLOWED_INGESTS: `rtmp://127.0.0.1:${portOf(main)},rtmp://127.0.0.1:${portOf(flaky)}`,
      RELAY_MAX_SESSIONS: String(opts.sessions + 10),
      // Every publisher connects from 127.0.0.1 (20 of them in `npx projen soak`).
      RELAY_MAX_SESSIONS_PER_ADDRESS: String(opts.sessions + 10),
      RELAY_MAX_SESSIONS_PER_SUBJECT: String(opts.sessions + 10),
      RELAY_MAX_PENDING_PER_ADDRESS: String(opts.sessions + 10),
      RELAY_MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES),
      RELAY_MEDIA_TIMEOUT_MS: String(opts.mediaTimeoutMs),
    });
    watch = new ProcessWatch(relay.pid);
    const clip = await loadClip(await makeTestMedia('h264-opus-mkv', opts.clipSeconds), 'h264', opts.clipSeconds);
    const ctx: SessionContext = {
      relay,
      token: await makeToken(secret, { expiresIn: '2h' }),
      clip,
      maxMessageBytes: MAX_MESSAGE_BYTES,
      mediaTimeoutMs: opts.mediaTimeoutMs,
      rand,
      pendingChecks: [],
    };

    const t0 = performance.now();
    const deadline = t0 + opts.durationMs;
    const sessions: SessionRecord[] = [];
    const faults: FaultEvent[] = [];
    const planned: FaultEvent[] = [];
    const hardDeadline = t0 + Math.max(opts.durationMs, opts.maxDurationMs ?? 0);
    const everyKindHit = () => new Set(sessions.flatMap((s) => (s.fault ? [s.fault] : []))).size === new Set(FAULT_CYCLE).size;
    /** Whether the load is over by time `t`: past the duration with every kind hit, or past the longest it may run. */
    const over = (t: number) => t > hardDeadline || (t > deadline && everyKindHit());
    const at = () => Math.round((performance.now() - t0) / 100) / 10;
    // Closed while the flaky server is being restarted: no session may start against it then.
    let flakyGate: Promise<void> | undefined;
    let openGate: () => void = () => {};
    let seq = 0;
    /** When the last kind of the first fault cycle was injected: every fault's code path has run once. */
    let cycleDoneAt: number | undefined;

    const slot = async (i: number) => {
      const flakySlot = i < opts.flakySlots;
      const server = flakySlot ? flaky : main;
      await Bun.sleep((i * 3000) / opts.sessions + rand() * 300);
      for (;;) {
        while (flakySlot && flakyGate) await flakyGate;
        if (over(performance.now() + opts.clipSeconds * 1000 + 2000)) return;
        const ev = flakySlot ? undefined : planned.shift();
        const rec: SessionRecord = {
          key: `soak_${i}_${seq++}_${Math.floor(rand() * 1e9).toString(36)}`,
          slot: i,
          server: flakySlot ? 'flaky' : 'main',
          fault: ev?.kind,
          state: 'connecting',
          gotLive: false,
          ended: false,
          problems: [],
          startS: at(),
        };
        sessions.push(rec);
        if (ev) {
          ev.keys.push(rec.key);
          opts.log(`t=${at()}s fault ${ev.kind} (planned at t=${ev.atS}s): ${rec.key}`);
        }
        await runSession(ctx, rec, server, at);
        await Bun.sleep(rand() * 500);
      }
    };

    const injector = async () => {
      await Bun.sleep(opts.firstFaultAtMs);
      for (let k = 0; !over(performance.now() + opts.faultEveryMs + opts.clipSeconds * 500); k++) {
        const kind = FAULT_CYCLE[k % FAULT_CYCLE.length]!;
        const ev: FaultEvent = { atS: at(), kind, keys: [] };
        faults.push(ev);
        if (PLANNED.has(kind)) {
          planned.push(ev); // the next session starting on the main server takes it
        } else if (kind === 'kill-ffmpeg') {
          const victim = await pick(() => {
            const ok = sessions.filter((s) => s.server === 'main' && !s.fault && s.state === 'streaming' && s.stopDueAt! - performance.now() > 2500);
            return ok.length > 0 ? ok[Math.floor(rand() * ok.length)] : undefined;
          });
          const pid = victim && relay!.ffmpegPidOf(victim.session!);
          if (victim && pid) {
            victim.fault = kind;
            ev.keys.push(victim.key);
            process.kill(pid, 'SIGKILL');
          } else {ev.skipped = 'no session mid-stream';}
        } else {
          // Hold new flaky sessions back, then wait for a moment when every flaky session is
          // mid-stream: each is then certain to lose its ingest (not just about to start or stop).
          flakyGate = new Promise((resolve) => (openGate = resolve));
          try {
            const ok = await pick(() => {
              const active = sessions.filter((s) => s.server === 'flaky' && s.state !== 'done');
              return active.length > 0 && active.every((s) => s.state === 'streaming' && s.stopDueAt! - performance.now() > 2500) ? active : undefined;
            }, 10_000);
            if (ok) {
              for (const s of ok) {
                s.fault = kind;
                ev.keys.push(s.key);
              }
              await flaky.restart();
            } else {ev.skipped = 'no moment when every flaky session was mid-stream';}
          } finally {
            flakyGate = undefined;
            openGate();
          }
        }
        if (!PLANNED.has(kind)) opts.log(`t=${ev.atS}s fault ${kind}: ${ev.skipped ?? ev.keys.join(', ')}`);
        if (k === FAULT_CYCLE.length - 1) cycleDoneAt = performance.now();
        await Bun.sleep(opts.faultEveryMs);
      }
    };

    const progress = setInterval(() => {
      const done = sessions.filter((s) => s.state === 'done').length;
      opts.log(`t=${at()}s sessions started ${sessions.length}, done ${done}, faults ${faults.length}, relay RSS ${((watch!.rss.at(-1)?.kib ?? 0) / 1024).toFixed(1)} MiB, ffmpeg children ${relay!.ffmpegChildren().length}`);
    }, 30_000);
    await Promise.all([injector(), ...Array.from({ length: opts.sessions }, (_, i) => slot(i))]);
    clearInterval(progress);
    const loadEnd = performance.now();
    for (const ev of planned.splice(0)) ev.skipped = 'no session started after it was planned';
    opts.log(`t=${at()}s load over; checking recordings and processes`);
    await Promise.all(ctx.pendingChecks);

    // Every session has ended: every FFmpeg must be gone too, and the relay must say so.
    let leftoverChildren = 0;
    try {
      await waitRelayIdle(relay, 15_000);
    } catch {
      leftoverChildren = relay.ffmpegChildren().length;
    }
    const healthAfter = await (await fetch(`${relay.httpUrl}/healthz`)).json().catch((e) => String(e));
    const findings = watch.stop();
    const relayExitCode = await relay.stop();
    await Bun.sleep(500);
    const survivors = watch.survivors();

    // Warm means the time has passed and every kind of fault has run once (its first run allocates
    // what later runs reuse: compiled code, lazily made tables), and the last one had a fault period to settle.
    const warm = Math.max(t0 + opts.warmupMs, cycleDoneAt === undefined ? 0 : cycleDoneAt + opts.faultEveryMs);
    const rss = rssGrowth(watch.rss, warm, loadEnd, t0);
    const report: SoakReport = {
      options: { ...opts, log: undefined } as never,
      seconds: (performance.now() - t0) / 1000,
      sessions,
      faults,
      watch: findings,
      leftoverChildren,
      survivors,
      relayExitCode,
      healthAfter,
      rss,
      violations: [],
    };
    report.violations = violations(report);
    return report;
  } finally {
    watch?.stop();
    await relay?.stop(2000);
    await Promise.all(servers.map((s) => s.stop()));
  }
}

/**
 * RSS growth after warm-up: the floor (lowest sample) of the last window of the load against the
 * floor of the first window after warm-up (windows of 15% of that span, at least 5 s). A leak is
 * memory the relay keeps: it raises the floor. Garbage not yet collected does not, while it moves a
 * window's median with how busy the relay happened to be then (medians once measured 12.4% on a
 * busy machine).
 */
function rssGrowth(samples: { at: number; kib: number }[], from: number, to: number, t0: number): SoakReport['rss'] {
  const span = Math.max(0, to - from);
  const w = Math.max(5000, span * 0.15);
  const first = samples.filter((s) => s.at >= from && s.at <= from + w).map((s) => s.kib);
  const last = samples.filter((s) => s.at >= to - w && s.at <= to).map((s) => s.kib);
  const warm = Math.min(...first) / 1024;
  const end = Math.min(...last) / 1024;
  return { warmMiB: warm, endMiB: end, growth: end / warm - 1, samples: samples.length, fromS: Math.round((from - t0) / 100) / 10 };
}

function violations(r: SoakReport): string[] {
  const out: string[] = [];
  for (const s of r.sessions) {
    const why = judgeSession(s);
    if (why) out.push(why);
  }
  if (!r.sessions.some((s) => !s.fault)) out.push('no session ran without a fault');
  for (const kind of Object.keys(EXPECTED) as FaultKind[]) {
    if (!r.sessions.some((s) => s.fault === kind)) out.push(`fault ${kind} never hit a session`);
  }
  for (const z of r.watch.zombies) out.push(`FFmpeg ${z.pid} stayed a zombie for ${z.forMs} ms`);
  for (const pid of r.watch.orphans) out.push(`FFmpeg ${pid} outlived its relay parent (orphan)`);
  if (r.leftoverChildren > 0) out.push(`${r.leftoverChildren} FFmpeg process(es) left after every session ended`);
  if (r.survivors.length > 0) out.push(`FFmpeg ${r.survivors.join(', ')} still alive after the relay exited`);
  if (r.relayExitCode !== 0) out.push(`relay exited with ${r.relayExitCode}`);
  const h = r.healthAfter as { status?: string; sessions?: number };
  if (h?.status !== 'ok' || h.sessions !== 0) out.push(`healthz after the load: ${JSON.stringify(r.healthAfter)}`);
  if (!(r.rss.growth < RSS_GROWTH_LIMIT)) {
    out.push(`relay RSS grew ${(r.rss.growth * 100).toFixed(1)}% after warm-up (${r.rss.warmMiB.toFixed(1)} → ${r.rss.endMiB.toFixed(1)} MiB)`);
  }
  return out;
}

async function pick<T>(find: () => T | undefined, timeoutMs = 3000): Promise<T | undefined> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const v = find();
    if (v !== undefined || performance.now() > end) return v;
    await Bun.sleep(100);
  }
}
