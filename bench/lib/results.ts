import type { CostBreakdown } from './cost-breakdown.ts';
import type { MachineInfo } from './machine.ts';
import type { WindowUsage } from './sampler.ts';

/** One step of N publishers through the relay. */
export interface RelayStep {
  /** The bench's name for the step's pipeline: `full-copy` is the copy pipeline fed H.264 + AAC. */
  pipeline: BenchPipeline;
  n: number;
  usage: WindowUsage;
  /** Relay CPU as a fraction of its FFmpeg children's CPU. */
  relayToFfmpegCpu: number;
  /** `start` → `live`, ms. */
  startToLive: { p50: number; p95: number; max: number };
  /** Frame arrival in the relay → FFmpeg's stdin took it, ms (measured in the relay: `RELAY_DELAY_TRACE_FILE`), every frame. */
  relayDelay: Delay;
  /** The same over the measured window only (every session streaming, none starting). */
  relayDelaySteady: Delay;
  /** Times a session paused its socket because FFmpeg's stdin was backed up (whole step). */
  backpressurePauses: number;
  /** `stop` → `ended`, ms: how far behind FFmpeg was when the client finished. */
  stopToEnded: { p50: number; p95: number; max: number };
  /** The latest any chunk due in the measured window left its publisher after it was due, ms. */
  publisherMaxSlipMs: number;
  framesSent: number;
  framesAtSink: number;
  /** Worst session: frames at the sink / frames sent. */
  worstFrameRatio: number;
  secondsSent: number;
  /** Worst session: recorded duration / sent duration. */
  worstDurationRatio: number;
  /** Sessions that got ready, live, ended and closed 1000. */
  sessionsOk: number;
  /** Median of each session's last reported FFmpeg speed. */
  ffmpegSpeed: number;
  realTime: boolean;
  /** Why real time failed (empty when it held). */
  failures: string[];
  baseline?: BaselineStep;
}

/** Delay percentiles, ms. */
export interface Delay {
  p50: number;
  p99: number;
  max: number;
  samples: number;
}

/** The same N streams fed straight into FFmpeg with the relay's arguments, no relay. */
export interface BaselineStep {
  n: number;
  usage: WindowUsage;
  framesSent: number;
  framesAtSink: number;
  worstFrameRatio: number;
  stopToExit: { p50: number; p95: number; max: number };
  /** Harness write of a chunk → FFmpeg's stdin took it, ms: the relay delay's counterpart without a relay. */
  pipeDelay: Delay;
  pipeDelaySteady: Delay;
  realTime: boolean;
  failures: string[];
}

/**
 * Glass-to-ingest latency of one capture path: a canvas in Chromium stamps Date.now() into every
 * frame, the real client broadcasts it through a relay to nginx, and a low-delay FFmpeg player
 * reads the stamp back from each frame it decodes (bench/lib/glass-latency.ts).
 */
export interface GlassToIngest {
  capture: 'webcodecs' | 'mediarecorder';
  /** What the client announced to the relay. */
  mimeType: string;
  /** The relay's pipeline for it (`copy`: video copied, audio to AAC). */
  pipeline: 'copy' | 'transcode';
  /** Arrival at the player − the frame's stamp, ms, over frames with a new stamp in the window. */
  p50: number;
  p95: number;
  max: number;
  min: number;
  samples: number;
  /** Frames in the window whose stamp could not be read (no contrast, or the check value did not match). */
  unreadable: number;
  /** Frames whose stamp equals the one before (the same picture again: not a new sample). */
  repeated: number;
  /** Decoded frames per second of the window: what reached the player of the 30 drawn. */
  fps: number;
}

/** min, p50, p95 and max of a few runs, ms. */
export interface Spread {
  p50: number;
  p95: number;
  min: number;
  max: number;
}

/** Click "Go live" → `live` on the relay's own page, one capture path (bench/lib/go-live.ts). */
export interface GoLivePath {
  capture: 'webcodecs' | 'mediarecorder';
  runs: number;
  clickToLive: Spread;
  clickToConnecting: Spread;
  connectingToReady: Spread;
  readyToLive: Spread;
}

/** A part of the bench measured on its own (`BENCH_ONLY`): when, and how busy the machine was. */
export interface Measured {
  measuredAt: string;
  /** Load averages (1, 5, 15 min) just before it. */
  loadBefore: [number, number, number];
}

/** Go-live times per capture path. */
export interface GoLiveResults extends Measured {
  paths: GoLivePath[];
}

/** Glass-to-ingest latency over one window of the shaped-link run. */
export interface WindowLatency {
  /** What the window is, e.g. `cap 1.5 Mbit/s, settled`. */
  label: string;
  capMbit: number;
  p50: number;
  p95: number;
  max: number;
  samples: number;
  /** Frames whose stamp could not be read or made no sense (see GlassToIngest.unreadable). */
  unreadable: number;
}

/** The WebCodecs path on a shaped link whose cap changes (bench/lib/shaped-uplink.ts). */
export interface ShapedUplinkResults extends Measured {
  /** Which client ran: `BENCH_CLIENT_LABEL`, else relay/public's last commit (results of different clients are kept side by side). */
  client: string;
  /** The cap, Mbit/s, in order; each held for `phaseSeconds[i]`. The first (100) is the uncapped reference; then 4 → 1.5 → 4. */
  caps: number[];
  phaseSeconds: number[];
  /** The client's start and maximum video bitrate, bit/s. */
  maxVideoBitsPerSecond: number;
  /** Where the target came from: the client's `bitrate` events, or (without them) `b.videoBitsPerSecond` polled. */
  targetSource: 'bitrate event' | 'videoBitsPerSecond polled';
  /** Cap lowered → the client's video target first below it, ms; undefined: not within the phase. */
  dropBelowCapMs?: number;
  /** Cap raised again → the target back at the maximum, ms; undefined: not within the phase. */
  climbToMaxMs?: number;
  /** Whether the target ever went below the maximum (if not, there was nothing to climb back from). */
  leftMaximum: boolean;
  /** The target over the run: [ms since the first cap change, bit/s]. */
  targetTrace: [number, number][];
  /** New `ready`s after the first (a restart of the recording: one publish should stay one). */
  restarts: number;
  /** What crossed the bottleneck in each phase, on average, Mbit/s (the qdisc's own byte count). */
  uploadMbit: number[];
  /** The bottleneck's largest queue and its drops over the run. */
  maxBacklogBytes: number;
  droppedPackets: number;
  /** The browser's WebSocket backlog, largest seen, bytes. */
  maxBufferedAmount: number;
  latency: WindowLatency[];
  /** How the broadcast ended (`stopped` unless the client gave up). */
  endedWith: string;
  notes: string[];
}

/** The pipelines the bench steps through. */
export type BenchPipeline = 'copy' | 'full-copy' | 'transcode';

/** results.json. */
export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  machine: MachineInfo;
  /** Load averages (1, 5, 15 min) just before the run, i.e. what else the machine was doing. */
  loadBefore: [number, number, number];
  loadAfter: [number, number, number];
  settings: Record<string, unknown>;
  copy: RelayStep[];
  /** The copy pipeline with H.264 + AAC fragmented MP4 input: FFmpeg copies both streams. */
  fullCopy: RelayStep[];
  transcode: RelayStep[];
  /** What one second of media costs FFmpeg in the copy pipeline, part by part (unpaced, from a file). */
  copyCost?: CostBreakdown;
  /** Capture in the browser → arrival at the RTMP sink, per capture path (absent with BENCH_GLASS=off). */
  glassToIngest?: GlassToIngest[];
  /** Click → live per capture path (absent with BENCH_GO_LIVE_RUNS=0). */
  goLive?: GoLiveResults;
  /** The WebCodecs path on a capped, changing uplink, one entry per client measured (absent with BENCH_SHAPED=off). */
  shapedUplink?: ShapedUplinkResults[];
  targets: TargetVerdict[];
  notes: string[];
}

/** One of the bench's targets (issues 7 and 13) and whether this run met it. */
export interface TargetVerdict {
  target: string;
  measured: string;
  /** 'n/a': a figure to report, not a pass/fail target; 'not measured': the run did not reach it. */
  met: boolean | 'n/a' | 'not measured';
}
