// A real TCP path with a real bottleneck, for tests and the bench: a network namespace joined to
// this machine by a veth pair, with a token bucket (`tc … tbf`) on the host end's egress. A server
// started inside the namespace (the relay, see harness/shaped-relay.ts) is reached only through the
// veth, so everything a browser on this machine uploads to it leaves through the bucket, and the
// browser's own socket backs up exactly as on a slow home uplink. The way back (relay → browser,
// relay → nginx on the host end) is not shaped. The kernel here has no netem, but tbf works.
//
// Both ends get 127.213.x.y addresses: browsers treat all of 127.0.0.0/8 as a secure context (the
// WebCodecs path needs one) and the relay allows plain ws:// only on a loopback address. Linux routes
// such addresses over a non-loopback link only with `route_localnet` on that link and a more specific
// route in the host's `local` table; both belong to the veth and disappear with it.
//
// Needs root (CAP_NET_ADMIN) and iproute2 (`ip`, `tc`). Node APIs only: jest may load it too.
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readStat } from './proc';

/** Options of {@link startShapedLink}. */
export interface ShapedLinkOptions {
  /** Upload rate (host → namespace), Mbit/s. */
  readonly rateMbit: number;
  /**
   * How long the bottleneck's queue is, in ms at the current rate (tbf `latency`): a home router's
   * uplink buffer. Packets beyond it are dropped, so TCP backs off and the sender's socket fills.
   * @default 200
   */
  readonly queueMs?: number;
}

/** What the bottleneck has done so far (the qdisc's own counters). */
export interface ShapedLinkCounters {
  /** Bytes that left through the bucket. */
  readonly sentBytes: number;
  /** Packets dropped because the queue was full. */
  readonly droppedPackets: number;
  /** Bytes waiting in the queue now. */
  readonly backlogBytes: number;
}

/** A shaped link started by {@link startShapedLink}. */
export interface ShapedLink {
  /** The network namespace's name (unique per link). */
  readonly netns: string;
  /** The host end's address: where a server the namespace must reach listens (nginx). */
  readonly hostAddress: string;
  /** The namespace end's address: a server listening here inside the namespace is reached through the cap. */
  readonly farAddress: string;
  /** The current upload cap, Mbit/s. */
  readonly rateMbit: number;
  /** `argv` prefixed so that it runs inside the namespace (`ip netns exec <netns> …`; the pid stays the program's). */
  inside(argv: readonly string[]): string[];
  /** Changes the cap in place (`tc qdisc change`): open connections keep going at the new rate. */
  setRate(mbit: number): Promise<void>;
  /** The bottleneck's counters. */
  counters(): Promise<ShapedLinkCounters>;
  /**
   * Deletes the namespace and the veth pair (and with it the route and settings). Stop the
   * processes started inside first: a namespace lives on while a process is in it. Idempotent.
   */
  close(): Promise<void>;
}

/** Every link's namespace is named `<prefix><owner pid>-<owner start time>-<random>`. */
const NETNS_PREFIX = 'twshaped-';
const DEFAULT_QUEUE_MS = 200;
/** A few full-size frames: a modem's shaper lets a short burst through at line rate, not more. */
const BURST_BYTES = 4 * 1514;
const COMMAND_TIMEOUT_MS = 10_000;

/**
 * Creates a namespace, a veth pair between it and this machine, and a tbf of `rateMbit` on the
 * host end. Before that it removes links that an earlier run left behind when its process died
 * (the owner's pid and start time are in the name). Throws naming the cause when not root or when
 * `ip`/`tc` are missing; on any failure half-way, it removes what it made.
 */
export async function startShapedLink(opts: ShapedLinkOptions): Promise<ShapedLink> {
  checkRate(opts.rateMbit);
  const queueMs = opts.queueMs ?? DEFAULT_QUEUE_MS;
  if (!(queueMs >= 1 && queueMs <= 10_000)) throw new Error(`queueMs: expected 1 … 10000 ms, got ${queueMs}`);
  await checkPrerequisites();
  await sweepOrphans();

  const id = randomBytes(3).toString('hex');
  const self = readStat(process.pid);
  const netns = `${NETNS_PREFIX}${process.pid}-${self?.startTime ?? 0}-${id}`;
  // Interface names are at most 15 bytes.
  const hostIf = `tws${id}h`;
  const farIf = `tws${id}n`;
  const [hostAddress, farAddress] = await freeSubnet();
  let rateMbit = opts.rateMbit;
  let closed = false;

  // A process that exits without close() (a failed test that never reached its cleanup) still
  // removes its namespace; a SIGKILLed one is swept by the next startShapedLink.
  const onExit = () => removeSync(netns, hostIf);
  process.on('exit', onExit);
  const close = async () => {
    if (closed) return;
    closed = true;
    process.off('exit', onExit);
    await run('ip', ['netns', 'delete', netns]).catch(() => undefined);
    // The veth pair goes with the namespace once its last process has left; delete our end now
    // so that the route and the qdisc go at once.
    await run('ip', ['link', 'delete', hostIf]).catch(() => undefined);
  };

  try {
    await run('ip', ['netns', 'add', netns]);
    await run('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', farIf, 'netns', netns]);
    await run('ip', ['addr', 'add', `${hostAddress}/30`, 'dev', hostIf]);
    await run('sysctl', ['-qw', `net.ipv4.conf.${hostIf}.route_localnet=1`]);
    await run('ip', ['link', 'set', hostIf, 'up']);
    const ns = (argv: string[]) => run('ip', ['netns', 'exec', netns, ...argv]);
    await ns(['ip', 'link', 'set', 'lo', 'up']);
    await ns(['ip', 'addr', 'add', `${farAddress}/30`, 'dev', farIf]);
    await ns(['sysctl', '-qw', `net.ipv4.conf.${farIf}.route_localnet=1`]);
    await ns(['ip', 'link', 'set', farIf, 'up']);
    // Without it the host's `local 127.0.0.0/8` route would deliver farAddress to the host's own lo.
    await run('ip', ['route', 'add', `${farAddress}/32`, 'dev', hostIf, 'table', 'local', 'src', hostAddress]);
    await run('tc', ['qdisc', 'add', 'dev', hostIf, 'root', ...tbf(rateMbit, queueMs)]);
  } catch (e) {
    await close();
    throw e;
  }

  return {
    netns,
    hostAddress,
    farAddress,
    get rateMbit() {
      return rateMbit;
    },
    inside: (argv) => ['ip', 'netns', 'exec', netns, ...argv],
    async setRate(mbit) {
      checkRate(mbit);
      if (closed) throw new Error(`setRate(${mbit}): the shaped link ${netns} is closed`);
      await run('tc', ['qdisc', 'change', 'dev', hostIf, 'root', ...tbf(mbit, queueMs)]);
      rateMbit = mbit;
    },
    async counters() {
      const text = await run('tc', ['-s', 'qdisc', 'show', 'dev', hostIf]);
      const sent = /Sent (\d+) bytes \d+ pkt \(dropped (\d+)/.exec(text);
      const backlog = /backlog (\d+)b/.exec(text);
      if (!sent || !backlog) throw new Error(`shaped link ${netns}: cannot read tc counters from: ${text}`);
      return { sentBytes: Number(sent[1]), droppedPackets: Number(sent[2]), backlogBytes: Number(backlog[1]) };
    },
    close,
  };
}

/** tbf's arguments: the rate, a short burst, and a queue of `queueMs` at that rate. */
function tbf(mbit: number, queueMs: number): string[] {
  return ['tbf', 'rate', `${Math.round(mbit * 1000)}kbit`, 'burst', String(BURST_BYTES), 'latency', `${queueMs}ms`];
}

function checkRate(mbit: number): void {
  if (!(mbit >= 0.05 && mbit <= 10_000)) throw new Error(`rateMbit: expected 0.05 … 10000 Mbit/s, got ${mbit}`);
}

async function checkPrerequisites(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error('shaped link: needs root (network namespaces, veth and tc need CAP_NET_ADMIN); run the tests as root');
  }
  for (const [tool, args] of [['ip', ['-V']], ['tc', ['-V']], ['sysctl', ['--version']]] as const) {
    await run(tool, [...args]).catch((e: Error) => {
      throw new Error(`shaped link: cannot run \`${tool}\` (Debian package ${tool === 'sysctl' ? 'procps' : 'iproute2'}; scripts/ensure-system-deps.sh installs it): ${e.message}`);
    });
  }
}

/**
 * A /30 in 127.213.0.0/16 that no interface on this machine uses: the host end gets .1, the
 * namespace end .2 of it. Random, so that parallel runs do not pick the same one.
 */
async function freeSubnet(): Promise<[string, string]> {
  const used = await run('ip', ['-o', '-4', 'addr', 'show']);
  for (let i = 0; i < 50; i++) {
    const [a, b] = randomBytes(2);
    const base = (b! % 64) * 4;
    const host = `127.213.${a}.${base + 1}`;
    const far = `127.213.${a}.${base + 2}`;
    if (!used.includes(` ${host}/`) && !used.includes(` ${far}/`)) return [host, far];
  }
  throw new Error('shaped link: no free /30 in 127.213.0.0/16 after 50 tries');
}

/**
 * Removes links whose owner process is gone (killed before its exit handler ran): first the
 * processes it left inside (by pid, from `ip netns pids`), then the namespace.
 */
async function sweepOrphans(): Promise<void> {
  const list = await run('ip', ['netns', 'list']);
  for (const line of list.split('\n')) {
    const m = new RegExp(`^(${NETNS_PREFIX}(\\d+)-(\\d+)-([0-9a-f]{6}))\\b`).exec(line.trim());
    if (!m) continue;
    const owner = readStat(Number(m[2]));
    if (owner && owner.startTime === Number(m[3])) continue;
    const pids = (await run('ip', ['netns', 'pids', m[1]!]).catch(() => '')).split('\n').filter((p) => /^\d+$/.test(p));
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    removeSync(m[1]!, `tws${m[4]}h`);
  }
}

function removeSync(netns: string, hostIf: string): void {
  spawnSync('ip', ['netns', 'delete', netns], { stdio: 'ignore', timeout: COMMAND_TIMEOUT_MS });
  spawnSync('ip', ['link', 'delete', hostIf], { stdio: 'ignore', timeout: COMMAND_TIMEOUT_MS });
}

/** Runs a command; rejects with its stderr (or after 10 s) when it fails. */
function run(cmd: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: COMMAND_TIMEOUT_MS }, (error, stdout, stderr) => {
      if (error) reject(new Error(`\`${cmd} ${args.join(' ')}\` failed: ${String(stderr).trim() || error.message}`));
      else resolve(String(stdout));
    });
  });
}
