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
