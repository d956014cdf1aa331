import { mean } from './stats.ts';
import { CLK_TCK, childrenOf, readPssKiB, readRssKiB, readStat, systemCpu } from '../../harness/proc.ts';

/** CPU and memory of one group of processes over a measured window. */
export interface GroupUsage {
  /** Percent of one core (100 = one core busy), like `top`. */
  cpuPct: number;
  /** Mean and peak of the group's summed RSS, MiB. */
  rssMiB: number;
  rssPeakMiB: number;
  /** How many processes the group had, on average over the samples. */
  count: number;
  /** Mean summed PSS, MiB (FFmpeg only: shared libraries counted once across the group). */
  pssMiB?: number;
}

/** Everything measured over one window. */
export interface WindowUsage {
  seconds: number;
  /** The relay process itself (or the harness, for the baseline). */
  parent: GroupUsage;
  /** FFmpeg children of the parent, including any reaped during the window. */
  ffmpeg: GroupUsage;
  /** The RTMP server (nginx), the sink. */
  sink: GroupUsage;
  /** The harness process (publishers, sampler). */
  harness: GroupUsage;
  /** Whole machine, percent of all cores. */
  machineBusyPct: number;
}

interface Snapshot {
  at: number;
  parentTicks: number;
  parentChildTicks: number;
  ffmpeg: Map<number, number>;
  sinkTicks: number;
  harnessTicks: number;
  sys: { busy: number; total: number };
}

/**
 * Measures a window: CPU from /proc tick counters at its two ends (exact, whatever the sampling
 * rate), RSS from samples taken every `intervalMs` in between.
 */
export class WindowSampler {
  private first?: Snapshot;
  private timer?: Timer;
  private readonly rss = {
    parent: [] as number[], ffmpeg: [] as number[], sink: [] as number[], harness: [] as number[], count: [] as number[], ffmpegPss: [] as number[],
  };
  private samples = 0;

  /**
   * @param parentPid the relay (children named ffmpeg are its sessions' encoders), or the harness
   *   itself for the baseline
   * @param sinkPids the RTMP server's processes
   */
  constructor(private readonly parentPid: number, private readonly sinkPids: () => number[], private readonly intervalMs = 1000) {}

  begin(): void {
    this.first = this.snapshot();
    this.sampleRss();
    this.timer = setInterval(() => this.sampleRss(), this.intervalMs);
  }

  end(): WindowUsage {
    clearInterval(this.timer);
    this.sampleRss();
    const a = this.first!;
    const b = this.snapshot();
    const seconds = (b.at - a.at) / 1000;
    const pct = (ticks: number) => (ticks / CLK_TCK / seconds) * 100;
    let ffTicks = b.parentChildTicks - a.parentChildTicks; // encoders reaped during the window
    for (const [pid, t] of b.ffmpeg) ffTicks += t - (a.ffmpeg.get(pid) ?? 0);
    const group = (cpuTicks: number, rss: number[], count: number): GroupUsage => ({
      cpuPct: pct(cpuTicks), rssMiB: mean(rss) / 1024, rssPeakMiB: Math.max(0, ...rss) / 1024, count,
    });
    const sameProcess = this.parentPid === process.pid;
    return {
      seconds,
      parent: group(b.parentTicks - a.parentTicks, this.rss.parent, 1),
      ffmpeg: { ...group(ffTicks, this.rss.ffmpeg, mean(this.rss.count)), pssMiB: mean(this.rss.ffmpegPss) / 1024 },
      sink: group(b.sinkTicks - a.sinkTicks, this.rss.sink, this.sinkPids().length),
      harness: sameProcess ? group(b.parentTicks - a.parentTicks, this.rss.parent, 1) : group(b.harnessTicks - a.harnessTicks, this.rss.harness, 1),
      machineBusyPct: ((b.sys.busy - a.sys.busy) / (b.sys.total - a.sys.total)) * 100,
    };
  }

  private snapshot(): Snapshot {
    const parent = readStat(this.parentPid);
    const ffmpeg = new Map<number, number>();
    for (const c of childrenOf(this.parentPid, 'ffmpeg')) ffmpeg.set(c.pid, c.ticks);
    return {
      at: performance.now(),
      parentTicks: parent?.ticks ?? 0,
      // For the baseline the parent is the harness, whose reaped children include ffprobe runs:
      // those never overlap a window, but only FFmpeg's own counters are trusted there.
      parentChildTicks: this.parentPid === process.pid ? 0 : parent?.childTicks ?? 0,
      ffmpeg,
      sinkTicks: this.sinkPids().reduce((s, pid) => s + (readStat(pid)?.ticks ?? 0), 0),
      harnessTicks: readStat(process.pid)?.ticks ?? 0,
      sys: systemCpu(),
    };
  }

  private sampleRss(): void {
    const kids = childrenOf(this.parentPid, 'ffmpeg');
    this.rss.parent.push(readRssKiB(this.parentPid));
    this.rss.ffmpeg.push(kids.reduce((s, k) => s + readRssKiB(k.pid), 0));
    this.rss.count.push(kids.length);
    // smaps_rollup walks page tables, so it is read only every fifth sample.
    if (this.samples++ % 5 === 0) this.rss.ffmpegPss.push(kids.reduce((s, k) => s + readPssKiB(k.pid), 0));
    this.rss.sink.push(this.sinkPids().reduce((s, pid) => s + readRssKiB(pid), 0));
    this.rss.harness.push(readRssKiB(process.pid));
  }
}
