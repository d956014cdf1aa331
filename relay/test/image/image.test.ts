import { readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { Subprocess } from 'bun';
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import {
  buildImage, descendantNamed, ensureBaseImage, IMAGE, imageConfig, mustRun, permissions, requireImageTools, run, runReadOnly, uids,
  type ImageConfig, type RunOptions,
} from './buildah.ts';
import { makeTestMedia } from '../../../harness/clips.ts';
import { streamFile } from '../../../harness/media.ts';
import { freePort, waitFor } from '../../../harness/ports.ts';
import { probeRecording } from '../../../harness/probe.ts';
import { childrenNamed, isProcessAlive } from '../../../harness/proc.ts';
import { startRtmpServer, type RtmpServer } from '../../../harness/rtmp-server.ts';
import { makeToken } from '../../../harness/token.ts';
import { TranswrapRelay } from '../../../src/index.ts';
import { loadConfig } from '../../src/config.ts';

// The relay image itself: relay/Dockerfile built with buildah on a stand-in for its base (Docker
// Hub cannot be reached here), then the image's ENTRYPOINT + CMD run in it as ECS runs the
// construct's container: read-only root filesystem, the task's scratch volume, its TMPDIR. The
// relay is reached on the host's loopback, publishing to a real nginx-rtmp. The first run on a
// machine makes the base and installs FFmpeg in the image (a minute or two); later runs hit
// buildah's caches.

const SECRET = 'image-test-secret-5c0ffee5c0ffee';
const MKV = 'video/x-matroska;codecs=avc1,opus';
const WEBM = 'video/webm;codecs=vp8,opus';
const SECONDS = 6;
const DRAIN_MS = 4000;
/** Where the rtmps stand-in's certificate is mounted inside the container. */
const INGEST_CA = '/run/ingest-ca.pem';

/** A relay running from the image. */
interface ImageRelay {
  container: string;
  rootfs: string;
  runner: Subprocess<'ignore', 'pipe', 'pipe'>;
  /** The container's exit status, once its output is read to the end. */
  exit: Promise<number>;
  output: string;
  tiniPid: number;
  relayPid: number;
}

/** The relay container of the construct's default task definition, as the template gives it to ECS. */
interface TaskContainer {
  readonlyRootFilesystem: boolean;
  /** Mount points, each with the task volume it mounts. */
  mounts: { path: string; volume: Record<string, unknown>; readOnly: boolean }[];
  env: Record<string, string>;
  healthCheck: string[];
}

let config: ImageConfig;
let task: TaskContainer;
let rtmp: RtmpServer;
/** An rtmps ingest whose self-signed certificate the relay is not given. */
let untrusted: RtmpServer;
/** The relay the sessions go through: TLS off, so the test's clients speak plain ws://. */
let relay: ImageRelay;
let port: number;
const started: ImageRelay[] = [];

/** `rtmps://localhost:<port>`, the allow-list entry of an rtmps stand-in. */
const rtmpsOrigin = (server: RtmpServer) => server.rtmpsUrl!.replace(/\/live\/$/, '');

/** The construct's relay container with its defaults but `port`, read from the synthesized template. */
function taskContainer(relayPort: number): TaskContainer {
  const stack = new Stack(new App(), 'RelayStack', { env: { account: '111122223333', region: 'us-west-2' } });
  new TranswrapRelay(stack, 'Relay', { port: relayPort });
  const [taskDefinition] = Object.values(Template.fromStack(stack).findResources('AWS::ECS::TaskDefinition'));
  const { Volumes: volumes = [], ContainerDefinitions: [container] } = taskDefinition!.Properties;
  return {
    readonlyRootFilesystem: container.ReadonlyRootFilesystem,
    mounts: (container.MountPoints ?? []).map((m: { ContainerPath: string; SourceVolume: string; ReadOnly: boolean }) => ({
      path: m.ContainerPath, volume: volumes.find((v: { Name: string }) => v.Name === m.SourceVolume), readOnly: m.ReadOnly,
    })),
    env: Object.fromEntries(container.Environment.map((e: { Name: string; Value: string }) => [e.Name, e.Value])),
    healthCheck: container.HealthCheck.Command,
  };
}

/** Starts the image's relay in a new container, with the task's volumes, and waits for `/healthz`. */
async function startImageRelay(name: string, env: Record<string, string>, files: RunOptions['files'] = {}): Promise<ImageRelay> {
  const container = (await mustRun('buildah from', ['buildah', 'from', '--name', `transwrap-relay-${name}-${process.pid}`, IMAGE])).trim();
  const { proc: runner, rootfs } = await runReadOnly(container, config, { env, files, volumes: task.mounts.map((m) => m.path) });
  const r: ImageRelay = { container, rootfs, runner, exit: Promise.resolve(-1), output: '', tiniPid: 0, relayPid: 0 };
  started.push(r);
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) r.output += decoder.decode(chunk, { stream: true });
  };
  const drained = Promise.all([collect(runner.stdout), collect(runner.stderr)]);
  r.exit = runner.exited.then(async (code) => {
    await drained;
    return code;
  });
  let exited = false;
  void r.exit.then(() => (exited = true));
  const scheme = env.RELAY_TLS === 'off' ? 'http' : 'https';
  await waitFor(async () => {
    if (exited) throw new Error(`the image's relay exited before answering /healthz:\n${r.output}`);
    return fetch(`${scheme}://127.0.0.1:${env.RELAY_PORT}/healthz`, { tls: { rejectUnauthorized: false } }).then((res) => res.ok, () => false);
  }, 30_000, 'the image\'s relay to answer /healthz', 100);
  r.tiniPid = descendantNamed(runner.pid, 'tini') ?? 0;
  r.relayPid = childrenNamed(r.tiniPid, 'bun')[0] ?? 0;
  return r;
}

/** Ends a relay the test did not stop, and removes its container. */
async function removeImageRelay(r: ImageRelay): Promise<void> {
  // Ending the relay ends its init, and with it the runner (which passes no signal on).
  const relayPid = r.relayPid || descendantNamed(r.runner.pid, 'bun');
  if (relayPid && isProcessAlive(relayPid, 'bun')) process.kill(relayPid, 'SIGKILL');
  if (!(await Promise.race([r.exit.then(() => true), Bun.sleep(10_000).then(() => false)]))) {
    r.runner.kill('SIGKILL');
    await r.exit;
  }
  await run(['buildah', 'rm', r.container]);
}

beforeAll(async () => {
  await requireImageTools();
  await buildImage(await ensureBaseImage());
  config = await imageConfig(IMAGE);
  [rtmp, untrusted] = await Promise.all([startRtmpServer({ tls: true }), startRtmpServer({ tls: true })]);
  await Promise.all([makeTestMedia('h264-opus-mkv', SECONDS), makeTestMedia('vp8-opus-webm', SECONDS), makeTestMedia('h264-opus-mkv', 12)]);
  port = await freePort();
  task = taskContainer(await freePort());
  relay = await startImageRelay('image-test', {
    TMPDIR: task.env.TMPDIR!,
    RELAY_HOST: '127.0.0.1',
    RELAY_PORT: String(port),
    RELAY_TLS: 'off',
    RELAY_AUTH_SECRET: SECRET,
    RELAY_ALLOWED_INGESTS: `rtmp://127.0.0.1:${rtmp.port},${rtmpsOrigin(rtmp)},${rtmpsOrigin(untrusted)}`,
    RELAY_INGEST_CA_FILE: INGEST_CA,
    RELAY_DRAIN_TIMEOUT_MS: String(DRAIN_MS),
  }, { [INGEST_CA]: rtmp.caFile! });
}, 20 * 60_000);

afterAll(async () => {
  await Promise.all(started.map(removeImageRelay));
  await Promise.all([rtmp?.stop(), untrusted?.stop()]);
}, 60_000);

describe('the relay image', () => {
  test('is configured as the Dockerfile says: non-root user, tini, the relay\'s default port exposed', () => {
    expect(config.User).toBe('bun');
    expect(config.Entrypoint).toEqual(['/usr/bin/tini', '--']);
    expect(config.Cmd).toEqual(['bun', 'relay/src/main.ts']);
    expect(config.StopSignal).toBe('SIGTERM');
    // EXPOSE names the port the relay listens on when RELAY_PORT is not set.
    expect(Object.keys(config.ExposedPorts ?? {})).toEqual([`${loadConfig({ RELAY_AUTH_SECRET: 'x'.repeat(32) }).port}/tcp`]);
  });

  test('declares the task\'s scratch directory a VOLUME, owned by the relay\'s user, and TMPDIR points at it', () => {
    // The construct's side: a read-only root and one bind-mount volume (a name, nothing else), writable, at TMPDIR.
    const scratch = task.env.TMPDIR!;
    expect(task.readonlyRootFilesystem).toBe(true);
    expect(task.mounts).toEqual([{ path: scratch, volume: { Name: expect.any(String) }, readOnly: false }]);
    // The image's side: the same path, declared a VOLUME, so that Fargate copies the directory's owner
    // and mode into the volume (without it the volume is root's, 0755, and the relay cannot write).
    expect(Object.keys(config.Volumes ?? {})).toEqual([scratch]);
    expect(config.Env).toContain(`TMPDIR=${scratch}`);
    // Nothing else is written: Bun's transpiler cache would go to the read-only home.
    expect(config.Env).toContain('BUN_RUNTIME_TRANSPILER_CACHE_PATH=0');
    const dir = statSync(join(relay.rootfs, scratch));
    expect([dir.uid, dir.gid, permissions(dir)]).toEqual([1000, 1000, '0700']);
  });

  test('runs on a read-only root filesystem, with only the scratch volume writable, the relay\'s alone', () => {
    // Through /proc/<pid>/root the host walks the relay's own mounts: even root cannot write to them.
    const root = `/proc/${relay.relayPid}/root`;
    for (const dir of ['/tmp', config.WorkingDir!, '/home/bun']) {
      expect(() => writeFileSync(join(root, dir, 'probe'), 'x')).toThrow(expect.objectContaining({ code: 'EROFS' }));
    }
    const scratch = statSync(join(root, task.env.TMPDIR!));
    expect([scratch.uid, permissions(scratch)]).toEqual([1000, '0700']);
    const mount = readFileSync(`/proc/${relay.relayPid}/mountinfo`, 'utf8').split('\n').map((l) => l.split(' '))
      .filter((f) => f[4] === task.env.TMPDIR).at(-1);
    expect(mount?.[5]?.split(',')).toContain('rw');
  });

  test('answers /healthz, with the relay running as uid 1000 under tini inside the image', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', sessions: 0 });
    expect(relay.tiniPid).toBeGreaterThan(0);
    expect(relay.relayPid).toBeGreaterThan(0);
    expect(uids(relay.tiniPid)).toEqual([1000, 1000, 1000, 1000]);
    expect(uids(relay.relayPid)).toEqual([1000, 1000, 1000, 1000]);
    // Its root is the container's filesystem, not the host's.
    expect(readlinkSync(`/proc/${relay.relayPid}/root`)).not.toBe('/');
    expect(relay.output).toContain('"msg":"relay listening"');
  });

  /** The relay's FFmpeg children, each with whether its running binary is the image's /usr/bin/ffmpeg and its uids. */
  function ffmpegChildren() {
    return childrenNamed(relay.relayPid, 'ffmpeg').flatMap((pid) => {
      try {
        // Through /proc/<pid>/root the host sees the container's files: compare the running binary with that file.
        const exe = statSync(`/proc/${pid}/exe`);
        const image = statSync(`/proc/${pid}/root/usr/bin/ffmpeg`);
        return [{ pid, imageBinary: exe.dev === image.dev && exe.ino === image.ino, uids: uids(pid) }];
      } catch {
        return []; // exited meanwhile
      }
    });
  }

  async function streamThroughImage(ingest: string, key: string, kind: 'h264-opus-mkv' | 'vp8-opus-webm' = 'h264-opus-mkv') {
    const seen: ReturnType<typeof ffmpegChildren> = [];
    const result = await streamFile(`ws://127.0.0.1:${port}/v1/stream`, {
      type: 'start', token: await makeToken(SECRET), ingest, streamKey: key, mimeType: kind === 'h264-opus-mkv' ? MKV : WEBM,
    }, await makeTestMedia(kind, SECONDS), {
      seconds: SECONDS,
      onMessage(msg) {
        if (msg.type === 'live') seen.push(...ffmpegChildren());
      },
    });
    expect(result.messages[0]).toMatchObject({ type: 'ready', pipeline: kind === 'h264-opus-mkv' ? 'copy' : 'transcode' });
    expect(result.gotLive).toBe(true);
    expect(result.messages.at(-1)).toEqual({ type: 'ended' });
    expect(result.closeCode).toBe(1000);
    // The image's FFmpeg (Debian's, of the image's release), as the relay's unprivileged user.
    expect(seen.length).toBeGreaterThan(0);
    for (const f of seen) expect(f).toEqual({ pid: f.pid, imageBinary: true, uids: [1000, 1000, 1000, 1000] });
    const probe = await probeRecording(await rtmp.waitForRecording(key));
    expect(probe.videoCodec).toBe('h264');
    expect(probe.audioCodec).toBe('aac');
    expect([probe.width, probe.height]).toEqual([1280, 720]);
    expect(Math.abs(probe.durationS - SECONDS)).toBeLessThanOrEqual(SECONDS * 0.1);
    expect(probe.maxKeyframeIntervalS).toBeLessThanOrEqual(2.1);
  }

  test.concurrent('streams a session through the image\'s own FFmpeg into nginx-rtmp', async () => {
    await streamThroughImage(rtmp.rtmpUrl, 'sk_image_rtmp_1f2e3d');
  });

  test.concurrent('transcodes VP8 with the image\'s FFmpeg (libx264, 2 s GOP)', async () => {
    await streamThroughImage(rtmp.rtmpUrl, 'sk_image_vp8_9a8b7c', 'vp8-opus-webm');
  });

  test.concurrent('rtmps:// with certificate verification works with the image\'s FFmpeg', async () => {
    await streamThroughImage(rtmp.rtmpsUrl!, 'sk_image_rtmps_4c5b6a');
  });

  test.concurrent('rtmps:// to an ingest whose certificate is not trusted is refused by the image\'s FFmpeg (4502)', async () => {
    const result = await streamFile(`ws://127.0.0.1:${port}/v1/stream`, {
      type: 'start', token: await makeToken(SECRET), ingest: untrusted.rtmpsUrl!, streamKey: 'sk_image_untrusted_3e4f5a', mimeType: MKV,
    }, await makeTestMedia('h264-opus-mkv', SECONDS), { seconds: SECONDS });
    expect(result.gotLive).toBe(false);
    expect(result.closeCode).toBe(4502);
    expect(result.messages.at(-1)).toEqual({ type: 'error', code: 'INGEST_FAILED', message: 'the ingest\'s TLS certificate could not be verified' });
    expect(await Bun.file(untrusted.recordingPath('sk_image_untrusted_3e4f5a')).exists()).toBe(false);
  });

  test('with the construct\'s environment (self-signed TLS, which writes under TMPDIR) it starts, and passes the construct\'s health check', async () => {
    // Loopback rather than the construct's 0.0.0.0: this machine is not a task.
    const tls = await startImageRelay('image-test-tls', { ...task.env, RELAY_HOST: '127.0.0.1', RELAY_AUTH_SECRET: SECRET });
    const res = await fetch(`https://127.0.0.1:${task.env.RELAY_PORT}/healthz`, { tls: { rejectUnauthorized: false } });
    expect(await res.json()).toEqual({ status: 'ok', sessions: 0 });
    // openssl's key and certificate files are gone again.
    expect(readdirSync(`/proc/${tls.relayPid}/root${task.env.TMPDIR}`)).toEqual([]);
    // ECS runs the health check inside the container: its mounts and root, its user, its environment.
    const [kind, ...command] = task.healthCheck;
    expect(kind).toBe('CMD');
    const environ = readFileSync(`/proc/${tls.tiniPid}/environ`, 'utf8').split('\0').filter(Boolean);
    const check = await run([
      'nsenter', `--target=${tls.tiniPid}`, '--mount', '--root', '--wd', '--setuid=1000', '--setgid=1000', '--', 'env', '-i', ...environ, ...command,
    ]);
    expect(check).toEqual({ code: 0, stdout: '', stderr: '' });
    process.kill(tls.tiniPid, 'SIGTERM');
    expect(await tls.exit).toBe(0);
  }, 60_000);

  test('SIGTERM to the container\'s init (what an ECS stop sends) drains a live session and exits 0', async () => {
    let live = false;
    const session = streamFile(`ws://127.0.0.1:${port}/v1/stream`, {
      type: 'start', token: await makeToken(SECRET), ingest: rtmp.rtmpUrl, streamKey: 'sk_image_drain_0a1b2c', mimeType: MKV,
    }, await makeTestMedia('h264-opus-mkv', 12), {
      seconds: 12,
      onMessage(msg) {
        if (msg.type === 'live') live = true;
      },
    });
    await waitFor(() => live, 15_000, 'the session to be live');
    const ffmpeg = childrenNamed(relay.relayPid, 'ffmpeg');
    process.kill(relay.tiniPid, 'SIGTERM');
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 503, 3000, 'healthz to turn 503');
    // The live session is stopped cleanly when the drain window closes, not cut.
    const result = await session;
    expect(result.closeCode).toBe(1000);
    expect(result.messages.at(-1)).toEqual({ type: 'ended' });
    expect(await relay.exit).toBe(0);
    expect(relay.output).toContain('"msg":"signal received; draining","signal":"SIGTERM"');
    expect(relay.output).toContain('"reason":"drain"');
    expect(isProcessAlive(relay.relayPid, 'bun')).toBe(false);
    for (const pid of ffmpeg) expect(isProcessAlive(pid)).toBe(false);
    const probe = await probeRecording(await rtmp.waitForRecording('sk_image_drain_0a1b2c'));
    expect(probe.videoCodec).toBe('h264');
    expect(probe.durationS).toBeLessThan(12);
  }, 60_000);
});
