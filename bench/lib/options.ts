/** Benchmark settings, from environment variables (documented in bench/README.md). */
export interface BenchOptions {
  /** Publisher counts for the copy pipeline, tried in order until real time fails. */
  copySteps: number[];
  /** Publisher counts for the copy pipeline with H.264 + AAC input (full copy). */
  fullCopySteps: number[];
  /** Publisher counts for the transcode pipeline. */
  transcodeSteps: number[];
  /** Seconds every publisher streams once all have started: the measured, steady part of a step. */
  stepSeconds: number;
  transcodeSeconds: number;
  /** Publishers start spread evenly over max(rampMinMs, N × rampPerSessionMs): FFmpeg's own start-up costs CPU. */
  rampPerSessionMs: number;
  rampMinMs: number;
  /** Timeslice range: each publisher picks one at random in [min, max] ms. */
  chunkMinMs: number;
  chunkMaxMs: number;
  /** Run FFmpeg alone at each step too (no relay). */
  baseline: boolean;
  /** Keep stepping this many steps after the first one that fails (0: stop at the first failure). */
  stepsAfterFailure: number;
  /** After the first failure, bisect between the last N that held and the first that failed this many times (no baseline). */
  refine: number;
  /** Measure glass-to-ingest latency per capture path (Chromium → relay → nginx) before the steps. */
  glass: boolean;
  /** Seconds measured per capture path, after 3 s of warm-up. */
  glassSeconds: number;
  /** Click "Go live" → live runs per capture path on the relay's own page (0: skip). */
  goLiveRuns: number;
  /** The WebCodecs path on a shaped link whose cap goes 4 → 1.5 → 4 Mbit/s (needs root and iproute2). */
  shaped: boolean;
  /**
   * The parts to run (`BENCH_ONLY`); the others keep their figures from the last results.json.
   * Undefined: all of them, and results.json and results.md are written afresh.
   */
  only?: ReadonlySet<BenchPart>;
  outDir: string;
}

/** The parts of the bench `BENCH_ONLY` can pick; `report` alone measures nothing and rewrites results.md from results.json. */
export const BENCH_PARTS = ['glass', 'go-live', 'shaped', 'steps', 'report'] as const;
export type BenchPart = (typeof BENCH_PARTS)[number];

// 60 is in the list because it is the target: passing 50 and failing 75 would not say.
const DEFAULT_COPY = [1, 5, 10, 25, 50, 60, 75, 100, 125, 150];
const DEFAULT_TRANSCODE = [1, 2, 3, 4, 5, 6, 7, 8];
// 150 is the full-copy target.
const DEFAULT_FULL_COPY = [1, 25, 50, 100, 150, 200];

function num(name: string, def: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}: expected a non-negative number, got "${raw}"`);
  return n;
}

function list(name: string, def: number[], max: number): number[] {
  const raw = process.env[name];
  const values = raw ? raw.split(',').map((s) => Number(s.trim())) : def;
  if (values.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`${name}: expected a comma-separated list of positive integers, got "${raw}"`);
  return values.filter((n) => n <= max);
}

function parts(name: string): ReadonlySet<BenchPart> | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const picked = raw.split(',').map((s) => s.trim());
  const unknown = picked.filter((p) => !(BENCH_PARTS as readonly string[]).includes(p));
  if (unknown.length > 0) throw new Error(`${name}: expected a comma-separated list of ${BENCH_PARTS.join(', ')}, got "${raw}"`);
  return new Set(picked as BenchPart[]);
}

/** Reads BENCH_* variables; throws one clear line on a bad value. */
export function benchOptions(outDir: string): BenchOptions {
  const maxN = num('BENCH_MAX_N', 150);
  const maxT = num('BENCH_MAX_TRANSCODES', 8);
  const glassSeconds = num('BENCH_GLASS_SECONDS', 20);
  return {
    copySteps: list('BENCH_STEPS', DEFAULT_COPY, maxN),
    fullCopySteps: list('BENCH_FULL_COPY_STEPS', DEFAULT_FULL_COPY, num('BENCH_MAX_FULL_COPY', 200)),
    transcodeSteps: list('BENCH_TRANSCODE_STEPS', DEFAULT_TRANSCODE, maxT),
    stepSeconds: num('BENCH_STEP_SECONDS', 20),
    transcodeSeconds: num('BENCH_TRANSCODE_SECONDS', num('BENCH_STEP_SECONDS', 20)),
    rampPerSessionMs: num('BENCH_RAMP_PER_SESSION_MS', 150),
    rampMinMs: num('BENCH_RAMP_MIN_MS', 2000),
    chunkMinMs: num('BENCH_CHUNK_MIN_MS', 100),
    chunkMaxMs: num('BENCH_CHUNK_MAX_MS', 250),
    baseline: process.env.BENCH_BASELINE !== 'off',
    stepsAfterFailure: num('BENCH_STEPS_AFTER_FAILURE', 0),
    refine: num('BENCH_REFINE', 2),
    glass: process.env.BENCH_GLASS !== 'off' && glassSeconds > 0,
    glassSeconds,
    goLiveRuns: num('BENCH_GO_LIVE_RUNS', 10),
    shaped: process.env.BENCH_SHAPED !== 'off',
    only: parts('BENCH_ONLY'),
    outDir: process.env.BENCH_OUT_DIR ?? outDir,
  };
}
