import { readdirSync, readFileSync } from 'node:fs';

// Everything the harness knows about processes comes from /proc, so the numbers are the
// kernel's own accounting, not what a process says about itself. Node APIs only: jest loads it too.

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on every Linux we run on). */
export const CLK_TCK = 100;

/** The fields of /proc/<pid>/stat the harness uses. */
export interface ProcStat {
  pid: number;
  comm: string;
  /** R, S, D, Z, T … */
  state: string;
  ppid: number;
  /** utime + stime, in clock ticks. */
  ticks: number;
  /** cutime + cstime: CPU of children this process has already reaped, in clock ticks. */
  childTicks: number;
  /** Start time since boot, in clock ticks: with the pid, it names one process even if the pid is reused. */
  startTime: number;
}

/** Reads /proc/<pid>/stat; undefined when the process is gone. */
export function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm is in parentheses and may itself contain spaces or parentheses.
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const f = text.slice(close + 2).split(' ');
  // After comm: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14) … starttime(19).
  return {
    pid,
    comm,
    state: f[0]!,
    ppid: Number(f[1]),
    ticks: Number(f[11]) + Number(f[12]),
    childTicks: Number(f[13]) + Number(f[14]),
    startTime: Number(f[19]),
  };
}

/** Resident set size in KiB (VmRSS), 0 when the process is gone or a zombie. */
export function readRssKiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Proportional set size in KiB (Pss from smaps_rollup): shared pages (FFmpeg's libraries) are
 * divided among the processes sharing them, so a sum over N processes is their real footprint.
 */
export function readPssKiB(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Every process on the machine (one /proc scan). */
export function allProcesses(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue;
    const s = readStat(Number(entry));
    if (s) out.push(s);
  }
  return out;
}

/** Processes whose parent is `ppid`, optionally only those named `comm`. */
export function childrenOf(ppid: number, comm?: string): ProcStat[] {
  return allProcesses().filter((p) => p.ppid === ppid && (comm === undefined || p.comm === comm));
}

/** Whole-machine CPU counters from /proc/stat, in ticks. */
export function systemCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  // idle + iowait are the time nobody wanted the CPU.
  return { busy: total - v[3]! - (v[4] ?? 0), total };
}

/** The 1, 5 and 15 minute load averages. */
export function loadAverage(): [number, number, number] {
  const [a, b, c] = readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number);
  return [a!, b!, c!];
}

/** Pids of the processes whose parent is `ppid` and whose command name is `comm` (zombies included). */
export function childrenNamed(ppid: number, comm: string): number[] {
  return childrenOf(ppid, comm).map((p) => p.pid);
}

/** Whether a pid still exists as a process named `comm` (zombies included). */
export function isProcessAlive(pid: number, comm = 'ffmpeg'): boolean {
  return readStat(pid)?.comm === comm;
}

/** Whether a pid is a running (not zombie) process named `comm`: an orphan that outlived its parent. */
export function isProcessRunning(pid: number, comm = 'ffmpeg'): boolean {
  const stat = readStat(pid);
  return stat?.comm === comm && stat.state !== 'Z';
}
