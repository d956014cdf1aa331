import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../../harness/relay-process.ts';

// Builds and runs the relay image with Debian's buildah, without a Docker daemon: `--isolation
// chroot` is the one isolation that works on these machines (no user namespaces for crun, no
// podman). The container shares the host's network and PID namespaces, so the test reaches the
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

/** The parts of an image's OCI configuration the test checks. */
export interface ImageConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  StopSignal?: string;
}

export async function imageConfig(image: string): Promise<ImageConfig> {
  const out = await mustRun('buildah inspect', ['buildah', 'inspect', '--type', 'image', image]);
  return JSON.parse(out).OCIv1.config as ImageConfig;
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

/** The first process named `name` below `root` (breadth first), e.g. the tini that `buildah run` started. */
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
