/**
 * Debian's Firefox ESR driven by puppeteer-core over WebDriver BiDi (no geckodriver, never a
 * downloaded browser: /usr/bin/firefox-esr, override with FIREFOX_PATH), with a fake camera and
 * microphone granted without a prompt.
 *
 * Firefox's `AudioContext` stays `suspended` without an audio output device, and the WebCodecs
 * path's audio capture needs one there (docs/embedding.md#browser-support). {@link startPulseAudio}
 * gives a private PulseAudio with a null sink: its own runtime directory and socket, stopped by
 * its PID. `launchFirefox({ audio: false })` points Firefox at a socket that does not exist, so it
 * has no audio device whatever the machine offers.
 */

import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { withTimeout } from './bounded.ts';
import { waitFor } from './ports.ts';

/** A private PulseAudio with one null sink. */
export interface PulseAudio {
  /** For `PULSE_SERVER`: `unix:<dir>/native`. */
  readonly server: string;
  readonly pid: number;
  /** Stops the daemon (SIGTERM to its PID, then SIGKILL) and removes its directory. */
  stop(): Promise<void>;
}

/** Starts PulseAudio in the foreground with a null sink, on a socket in a fresh directory; resolves once the socket exists. */
export async function startPulseAudio(): Promise<PulseAudio> {
  const dir = await mkdtemp(join(tmpdir(), 'transwrap-pulse-'));
  const socket = join(dir, 'native');
  const proc = Bun.spawn([
    'pulseaudio', '-n', '--daemonize=no', '--exit-idle-time=-1', '--use-pid-file=no', '--system=false',
    '-L', `module-native-protocol-unix socket=${socket} auth-anonymous=1`,
    '-L', 'module-null-sink sink_name=null',
  ], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, XDG_RUNTIME_DIR: dir, PULSE_RUNTIME_PATH: dir },
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'pipe',
  });
  const stderr = new Response(proc.stderr).text();
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const gone = await Promise.race([proc.exited.then(() => true), Bun.sleep(5000).then(() => false)]);
      if (!gone) proc.kill('SIGKILL');
      await proc.exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(() => existsSync(socket) || proc.exitCode !== null, 15_000, 'PulseAudio\'s socket');
    if (proc.exitCode !== null) throw new Error(`pulseaudio exited with ${proc.exitCode}: ${(await stderr).slice(-2000)}`);
  } catch (error) {
    await stop();
    throw error;
  }
  return { server: `unix:${socket}`, pid: proc.pid, stop };
}

/** Options of {@link launchFirefox}. */
export interface FirefoxOptions {
  /** The PulseAudio Firefox plays to; omitted: none at all (a socket that does not exist). */
  readonly pulse?: PulseAudio;
}

/** Launches the system Firefox ESR, headless, with fake media devices. */
export function launchFirefox(options: FirefoxOptions = {}): Promise<Browser> {
  const pulseServer = options.pulse?.server ?? `unix:${join(tmpdir(), `transwrap-no-pulse-${process.pid}`, 'native')}`;
  return withTimeout(puppeteer.launch({
    browser: 'firefox',
    executablePath: process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr',
    headless: true,
    protocol: 'webDriverBiDi',
    timeout: 60_000,
    env: { ...process.env, PULSE_SERVER: pulseServer },
    extraPrefsFirefox: {
      'media.navigator.streams.fake': true,
      'media.navigator.permission.disabled': true,
    },
  }), 90_000, 'Firefox to launch');
}
