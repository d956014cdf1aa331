import { childrenOf, readRssKiB, readStat } from '../../harness/proc.ts';

/** What the watch saw go wrong with the relay's FFmpeg children. */
export interface WatchFindings {
  /** FFmpeg processes the relay ever had. */
  seen: number;
  /** Children left as zombies (exited, not reaped) for longer than the grace period. */
  zombies: { pid: number; forMs: number }[];
  /** Children that outlived their relay parent (re-parented) while the relay was up. */
  orphans: number[];
  /** Most FFmpeg children alive at once. */
  maxChildren: number;
}

/**
 * Watches a relay's FFmpeg children from /proc every `intervalMs`: remembers every one (pid and
 * start time, so a reused pid is not mistaken for it), flags zombies that stay unreaped and
 * children re-parented away from the relay, and samples the relay's RSS.
 */
export class ProcessWatch {
  private readonly seen = new Map<number, number>(); // pid → start time
  private readonly zombieSince = new Map<number, number>();
  private readonly findings: WatchFindings = { seen: 0, zombies: [], orphans: [], maxChildren: 0 };
  readonly rss: { at: number; kib: number }[] = [];
  private readonly timer: Timer;

  constructor(private readonly relayPid: number, private readonly zombieGraceMs = 3000, intervalMs = 500) {
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    const now = performance.now();
    const kids = childrenOf(this.relayPid, 'ffmpeg');
    this.findings.maxChildren = Math.max(this.findings.maxChildren, kids.length);
    for (const k of kids) {
      if (!this.seen.has(k.pid)) this.seen.set(k.pid, k.startTime);
      if (k.state === 'Z') {
        const since = this.zombieSince.get(k.pid) ?? now;
        this.zombieSince.set(k.pid, since);
        if (now - since > this.zombieGraceMs && !this.findings.zombies.some((z) => z.pid === k.pid)) {
          this.findings.zombies.push({ pid: k.pid, forMs: Math.round(now - since) });
        }
      } else {this.zombieSince.delete(k.pid);}
    }
    for (const [pid, start] of this.seen) {
      const s = readStat(pid);
      if (s && s.startTime === start && s.comm === 'ffmpeg' && s.ppid !== this.relayPid && !this.findings.orphans.includes(pid)) {
        this.findings.orphans.push(pid);
      }
    }
    const kib = readRssKiB(this.relayPid);
    if (kib > 0) this.rss.push({ at: now, kib });
  }

  /** Stops watching and reports. */
  stop(): WatchFindings {
    clearInterval(this.timer);
    this.sample();
    return { ...this.findings, seen: this.seen.size };
  }

  /** FFmpeg processes the relay once had that still exist (any state): call after the relay exited. */
  survivors(): number[] {
    const out: number[] = [];
    for (const [pid, start] of this.seen) {
      const s = readStat(pid);
      if (s && s.startTime === start) out.push(pid);
    }
    return out;
  }
}
