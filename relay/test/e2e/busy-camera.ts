/**
 * Chromium with a camera whose picture needs the bitrate. The default fake camera (a still
 * background and a small moving shape) compresses to about 0.6 Mbit/s at 720p30 whatever the
 * encoder is asked for, so it would never fill a 1.5 Mbit/s link; this one plays a loop of
 * 1280×720 30 fps noise over a test pattern, which an H.264 encoder spends 2.5 Mbit/s on (and
 * less when asked for less). Chromium reads it with `--use-file-for-fake-video-capture`.
 */

import { existsSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM_ARGS } from '../../../harness/chromium.ts';

const CLIP = join(tmpdir(), 'transwrap-relay-test-media', 'busy-720p30.mjpeg');
/** Generating 4 s of it takes about 4 s on an idle core; a loaded machine gets ample room. */
const GENERATE_TIMEOUT_MS = 120_000;

/** The clip, made once per machine (cached in the temp dir). */
async function busyClip(): Promise<string> {
  if (existsSync(CLIP)) return CLIP;
  await mkdir(join(tmpdir(), 'transwrap-relay-test-media'), { recursive: true });
  // Written under a unique name and renamed: parallel test files never read a partial clip.
  const tmp = `${CLIP}.${process.pid}.${Date.now()}.tmp`;
  const proc = Bun.spawn([
    'ffmpeg', '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30',
    // Temporal and uniform noise: every frame differs from the last, as a real camera's sensor noise does.
    '-vf', 'noise=alls=25:allf=t+u', '-t', '4', '-c:v', 'mjpeg', '-q:v', '5', '-f', 'mjpeg', '-y', tmp,
  ], { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe' });
  const timer = setTimeout(() => proc.kill('SIGKILL'), GENERATE_TIMEOUT_MS);
  const [code, errors] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  clearTimeout(timer);
  if (code !== 0) throw new Error(`ffmpeg could not make the busy camera clip (exit ${code}): ${errors.slice(-500)}`);
  await rename(tmp, CLIP);
  return CLIP;
}

/** Launches the system Chromium with the busy camera (and the fake microphone). */
export async function launchBusyCameraBrowser(): Promise<Browser> {
  const clip = await busyClip();
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [...CHROMIUM_ARGS, `--use-file-for-fake-video-capture=${clip}`],
  });
}
