import { existsSync, readdirSync, readFileSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { REPO_ROOT } from '../../../harness/relay-process.ts';

// Builds the relay image with Debian's buildah, without a Docker daemon: `--isolation chroot` is
// the one isolation that works on these machines (no user namespaces for crun, no podman). It runs
// the image as ECS runs it with a read-only root filesystem (`runReadOnly`), which `buildah run`
// cannot do. The container shares the host's network and PID namespaces, so the test reaches the
// relay on loopback and can see (and signal) its processes.

/** Where the test's image is tagged; rebuilt (from buildah's layer cache) on every run. */
export const IMAGE = 'localhost/transwrap-relay-test:latest';

/** What `run` produced. */
export interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, capturing its output. */
export async function run(cmd: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<Output> {
  const proc = Bun.spawn(cmd, { cwd: opts.cwd ?? REPO_ROOT, env: { ...process.env, ...opts.env }, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** Like `run`, but throws (with the end of the output) unless the command succeeds. */
export async function mustRun(what: string, cmd: string[], opts: { env?: Record<string, string> } = {}): Promise<string> {
  const out = await run(cmd, opts);
  if (out.code !== 0) throw new Error(`${what} failed (exit ${out.code}): ${cmd.join(' ')}\n${(out.stdout + out.stderr).slice(-4000)}`);
  return out.stdout;
}

/**
 * Throws, naming what is missing and how to install it, unless buildah and mmdebstrap are on the
 * PATH and buildah can open its storage. The image test must fail, never skip, without them.
 */
export async function requireImageTools(): Promise<void> {
  const missing = ['buildah', 'mmdebstrap'].filter((tool) => !Bun.which(tool));
  if (missing.length > 0) {
    throw new Error(`the image test needs ${missing.join(' and ')}, not found on the PATH. Install Debian's packages: `
      + '`sudo apt-get install -y buildah mmdebstrap` (or, as root, `bash scripts/ensure-system-deps.sh`)');
  }
  const info = await run(['buildah', 'info']);
  if (info.code !== 0) {
    throw new Error(`buildah is installed but cannot run (it needs root here: chroot isolation, storage in /var/lib/containers): ${info.stderr.trim()}`);
  }
}

/** The stand-in for `oven/bun:<ver>-debian`, built once by scripts/image-base.sh and then cached in buildah's storage. */
export async function ensureBaseImage(): Promise<string> {
  const stdout = await mustRun('making the stand-in base image', ['bash', join(REPO_ROOT, 'scripts', 'image-base.sh')]);
  return stdout.trim().split('\n').at(-1)!;
}

/**
 * Builds relay/Dockerfile, unchanged, on `baseImage`. `--layers` caches steps as Docker does, so a
 * rerun with the same sources costs seconds. `bun install` reaches the npm registry over https: if
 * this network presents its own TLS authority, the host's CA bundle is mounted for the build only
 * and named by the Dockerfile's NODE_EXTRA_CA_CERTS build argument; nothing of it enters the image.
 */
export async function buildImage(baseImage: string): Promise<void> {
  const ca = process.env.NODE_EXTRA_CA_CERTS && existsSync(process.env.NODE_EXTRA_CA_CERTS)
    ? process.env.NODE_EXTRA_CA_CERTS
    : '/etc/ssl/certs/ca-certificates.crt';
  const caArgs = existsSync(ca) ? ['--volume', `${ca}:/run/build-ca.crt:ro`, '--build-arg', 'NODE_EXTRA_CA_CERTS=/run/build-ca.crt'] : [];
  await mustRun('building relay/Dockerfile', [
    'buildah', 'build', '--isolation', 'chroot', '--layers', '--force-rm',
    '--build-arg', `BASE_IMAGE=${baseImage}`, ...caArgs, '-t', IMAGE, join(REPO_ROOT, 'relay'),
  ]);
}

/** The parts of an image's OCI configuration the test checks and runs. */
export interface ImageConfig {
  User?: string;
  Env?: string[];
  ExposedPorts?: Record<string, object>;
  Volumes?: Record<string, object>;
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  StopSignal?: string;
}

export async function imageConfig(image: string): Promise<ImageConfig> {
  const out = await mustRun('buildah inspect', ['buildah', 'inspect', '--type', 'image', image]);
  return JSON.parse(out).OCIv1.config as ImageConfig;
}

/** What a container is started with, besides its image. */
export interface RunOptions {
  /** Variables on top of the image's `Env`, as a task definition's `environment`. */
  env: Record<string, string>;
  /** Container paths of the task's bind-mount volumes (a name, no host path), writable. */
  volumes: string[];
  /** Host files mounted read-only, by container path. */
  files: Record<string, string>;
}

/** A running container. */
export interface Running {
  /** The process whose only child is the container's init: it exits with the init's status. */
  proc: Subprocess<'ignore', 'pipe', 'pipe'>;
  /** The container's root filesystem as the host sees it, without the run's mounts. */
  rootfs: string;
}

/**
 * Runs the image's ENTRYPOINT + CMD in `container` (from `buildah from`) as ECS runs a container with
 * `readonlyRootFilesystem`, applying the image's User, WorkingDir and Env. In a mount namespace of
 * its own, the root filesystem is mounted read-only; each volume is an empty tmpfs that, as on
 * Fargate, takes the owner and mode of the image's directory when the image declares that path a
 * VOLUME, and is root's with mode 0755 when it does not (Fargate would also copy the directory's
 * files: the relay image's is empty). /proc, /sys (read-only), /dev and the host's
 * /etc/hosts and /etc/resolv.conf (ECS writes its own) are mounted as a container runtime would.
 */
export async function runReadOnly(container: string, config: ImageConfig, opts: RunOptions): Promise<Running> {
  const rootfs = (await mustRun('buildah mount', ['buildah', 'mount', container])).trim();
  const user = imageUser(rootfs, config.User ?? 'root');
  const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  const at = (path: string) => q(join(rootfs, path));
  const files = { ...opts.files, '/etc/hosts': '/etc/hosts', '/etc/resolv.conf': '/etc/resolv.conf' };
  const script = [
    'set -eu',
    // Mount points are made in the container's own layer (never the image) while it is still writable.
    ...Object.keys(files).map((path) => `mkdir -p "$(dirname ${at(path)})" && touch ${at(path)}`),
    ...opts.volumes.map((path) => `mkdir -p ${at(path)}`),
    // A bind of the root onto itself, remounted read-only: only this namespace's view is read-only.
    `mount --bind ${q(rootfs)} ${q(rootfs)}`,
    `mount -o remount,bind,ro ${q(rootfs)}`,
    `mount -t proc proc ${at('/proc')}`,
    `mount -t sysfs -o ro sysfs ${at('/sys')}`,
    `mount --rbind /dev ${at('/dev')}`,
    ...Object.entries(files).flatMap(([path, host]) => [`mount --bind ${q(host)} ${at(path)}`, `mount -o remount,bind,ro ${at(path)}`]),
    ...opts.volumes.map((path) => {
      const declared = path in (config.Volumes ?? {}) && existsSync(join(rootfs, path));
      const dir = declared ? statSync(join(rootfs, path)) : undefined;
      return `mount -t tmpfs -o uid=${dir?.uid ?? 0},gid=${dir?.gid ?? 0},mode=${dir ? permissions(dir) : '0755'} tmpfs ${at(path)}`;
    }),
    [
      'exec chroot', `--userspec=${user.uid}:${user.gid}`, `--groups=${user.groups.join(',')}`, q(rootfs),
      'env -i', `--chdir=${q(config.WorkingDir || '/')}`,
      ...[`HOME=${user.home}`, ...config.Env ?? [], ...Object.entries(opts.env).map(([k, v]) => `${k}=${v}`)].map(q),
      ...[...config.Entrypoint ?? [], ...config.Cmd ?? []].map(q),
    ].join(' '),
  ].join('\n');
  const proc = Bun.spawn(['unshare', '--mount', '--propagation', 'private', '--fork', '--', 'sh', '-c', script], {
    stdin: 'ignore', stdout: 'pipe', stderr: 'pipe',
  });
  return { proc, rootfs };
}

/** A file's permission bits in octal, as chmod writes them: `0700`. */
export function permissions(stats: Stats): string {
  return stats.mode.toString(8).slice(-4);
}

/** The uid, gid, groups and home of an image's user (`name`, `uid`, `name:group` or `uid:gid`), from its /etc/passwd and /etc/group. */
function imageUser(rootfs: string, spec: string): { uid: number; gid: number; groups: number[]; home: string } {
  const table = (file: string) => readFileSync(join(rootfs, 'etc', file), 'utf8').split('\n').filter(Boolean).map((l) => l.split(':'));
  const [name, group] = spec.split(':') as [string, string | undefined];
  const entry = table('passwd').find((f) => f[0] === name || f[2] === name);
  if (!entry && !/^\d+$/.test(name)) throw new Error(`the image has no user ${name}`);
  const groups = table('group');
  const groupId = (g: string) => Number(groups.find((f) => f[0] === g)?.[2] ?? g);
  const gid = group ? groupId(group) : Number(entry?.[3] ?? 0);
  const supplementary = entry ? groups.filter((f) => f[3]?.split(',').includes(entry[0]!)).map((f) => Number(f[2])) : [];
  return { uid: Number(entry?.[2] ?? name), gid, groups: [...new Set([gid, ...supplementary])], home: entry?.[5] || '/' };
}

/** One process as /proc shows it. */
interface Proc {
  pid: number;
  ppid: number;
  comm: string;
}

function processes(): Proc[] {
  const list: Proc[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      list.push({ pid: Number(entry), comm: stat.slice(stat.indexOf('(') + 1, close), ppid: Number(stat.slice(close + 2).split(' ')[1]) });
    } catch {
      // exited while listing
    }
  }
  return list;
}

/** The first process named `name` below `root` (breadth first), e.g. the relay under a container's init. */
export function descendantNamed(root: number, name: string): number | undefined {
  const all = processes();
  let level = [root];
  while (level.length > 0) {
    const next = all.filter((p) => level.includes(p.ppid));
    const hit = next.find((p) => p.comm === name);
    if (hit) return hit.pid;
    level = next.map((p) => p.pid);
  }
  return undefined;
}

/** The real, effective, saved and filesystem uids of a process. */
export function uids(pid: number): number[] {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('Uid:'))!;
  return line.split(/\s+/).slice(1, 5).map(Number);
}
