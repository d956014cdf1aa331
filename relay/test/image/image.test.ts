import { readlinkSync, statSync } from 'node:fs';
import type { Subprocess } from 'bun';
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import {
  buildImage, descendantNamed, ensureBaseImage, IMAGE, imageConfig, mustRun, requireImageTools, run, uids, type ImageConfig,
} from './buildah.ts';
import { makeTestMedia, streamFile } from '../../../harness/media.ts';
import { freePort, waitFor } from '../../../harness/ports.ts';
import { probeRecording } from '../../../harness/probe.ts';
import { childrenNamed, isProcessAlive } from '../../../harness/proc.ts';
import { startRtmpServer, type RtmpServer } from '../../../harness/rtmp-server.ts';
import { makeToken } from '../../../harness/token.ts';
import { loadConfig } from '../../src/config.ts';

// The relay image itself: relay/Dockerfile built with buildah on a stand-in for its base (Docker
// Hub cannot be reached here), then the image's ENTRYPOINT + CMD run in it, as ECS would run them,
// against a real nginx-rtmp on the host's loopback. The first run on a machine makes the base and
// installs FFmpeg in the image (a minute or two); later runs hit buildah's caches.

const SECRET = 'image-test-secret-5c0ffee5c0ffee';
const MKV = 'video/x-matroska;codecs=avc1,opus';
const WEBM = 'video/webm;codecs=vp8,opus';
const SECONDS = 6;
const DRAIN_MS = 4000;
/** Where the rtmps stand-in's certificate is mounted inside the container. */
const INGEST_CA = '/run/ingest-ca.pem';

let config: ImageConfig;
let rtmp: RtmpServer;
/** An rtmps ingest whose self-signed certificate the relay is not given. */
let untrusted: RtmpServer;
let container: string | undefined;
let runner: Subprocess<'ignore', 'pipe', 'pipe'> | undefined;
let runnerExit: Promise<number>;
let output = '';
let port: number;
let tiniPid = 0;
let relayPid = 0;

/** `rtmps://localhost:<port>`, the allow-list entry of an rtmps stand-in. */
const rtmpsOrigin = (server: RtmpServer) => server.rtmpsUrl!.replace(/\/live\/$/, '');

beforeAll(async () => {
  await requireImageTools();
  await buildImage(await ensureBaseImage());
  config = await imageConfig(IMAGE);
  [rtmp, untrusted] = await Promise.all([startRtmpServer({ tls: true }), startRtmpServer({ tls: true })]);
  await Promise.all([makeTestMedia('h264-opus-mkv', SECONDS), makeTestMedia('vp8-opus-webm', SECONDS), makeTestMedia('h264-opus-mkv', 12)]);

  container = (await mustRun('buildah from', ['buildah', 'from', '--name', `transwrap-relay-image-test-${process.pid}`, IMAGE])).trim();
  port = await freePort();
  const env: Record<string, string> = {
    RELAY_HOST: '127.0.0.1',
    RELAY_PORT: String(port),
    RELAY_TLS: 'off',
    RELAY_AUTH_SECRET: SECRET,
    RELAY_ALLOWED_INGESTS: `rtmp://127.0.0.1:${rtmp.port},${rtmpsOrigin(rtmp)},${rtmpsOrigin(untrusted)}`,
    RELAY_INGEST_CA_FILE: INGEST_CA,
    RELAY_DRAIN_TIMEOUT_MS: String(DRAIN_MS),
  };
  // `buildah run` ignores ENTRYPOINT and CMD: it is given them, from the image, so what runs is
  // what ECS runs. It applies the image's user, working directory and environment itself.
  runner = Bun.spawn([
    'buildah', 'run', '--isolation', 'chroot', '--volume', `${rtmp.caFile!}:${INGEST_CA}:ro`,
    ...Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
    container, '--', ...(config.Entrypoint ?? []), ...(config.Cmd ?? []),
  ], { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) output += decoder.decode(chunk, { stream: true });
  };
  const drained = Promise.all([collect(runner.stdout), collect(runner.stderr)]);
  runnerExit = runner.exited.then(async (code) => {
    await drained;
    return code;
  });
  let exited = false;
  void runnerExit.then(() => (exited = true));
  await waitFor(async () => {
    if (exited) throw new Error(`the image's relay exited before answering /healthz:\n${output}`);
    return fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
  }, 30_000, 'the image\'s relay to answer /healthz', 100);
  tiniPid = descendantNamed(runner.pid, 'tini') ?? 0;
  relayPid = childrenNamed(tiniPid, 'bun')[0] ?? 0;
}, 20 * 60_000);

afterAll(async () => {
  // Killing `buildah run` would orphan the relay (it does not pass signals on): end the relay itself.
  const relay = relayPid || (runner && descendantNamed(runner.pid, 'bun'));
  if (relay && isProcessAlive(relay, 'bun')) process.kill(relay, 'SIGKILL');
  if (runner && !(await Promise.race([runnerExit.then(() => true), Bun.sleep(10_000).then(() => false)]))) {
    runner.kill('SIGKILL');
    await runnerExit;
  }
  if (container) await run(['buildah', 'rm', container]);
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

  test('answers /healthz, with the relay running as uid 1000 under tini inside the image', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', sessions: 0 });
    expect(tiniPid).toBeGreaterThan(0);
    expect(relayPid).toBeGreaterThan(0);
    expect(uids(tiniPid)).toEqual([1000, 1000, 1000, 1000]);
    expect(uids(relayPid)).toEqual([1000, 1000, 1000, 1000]);
    // Its root is the container's filesystem, not the host's.
    expect(readlinkSync(`/proc/${relayPid}/root`)).not.toBe('/');
    expect(output).toContain('"msg":"relay listening"');
  });

  /** The relay's FFmpeg children, each with whether its running binary is the image's /usr/bin/ffmpeg and its uids. */
  function ffmpegChildren() {
    return childrenNamed(relayPid, 'ffmpeg').flatMap((pid) => {
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
    const ffmpeg = childrenNamed(relayPid, 'ffmpeg');
    process.kill(tiniPid, 'SIGTERM');
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 503, 3000, 'healthz to turn 503');
    // The live session is stopped cleanly when the drain window closes, not cut.
    const result = await session;
    expect(result.closeCode).toBe(1000);
    expect(result.messages.at(-1)).toEqual({ type: 'ended' });
    expect(await runnerExit).toBe(0);
    expect(output).toContain('"msg":"signal received; draining","signal":"SIGTERM"');
    expect(output).toContain('"reason":"drain"');
    expect(isProcessAlive(relayPid, 'bun')).toBe(false);
    for (const pid of ffmpeg) expect(isProcessAlive(pid)).toBe(false);
    const probe = await probeRecording(await rtmp.waitForRecording('sk_image_drain_0a1b2c'));
    expect(probe.videoCodec).toBe('h264');
    expect(probe.durationS).toBeLessThan(12);
  }, 60_000);
});
