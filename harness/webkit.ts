/**
 * Debian's WebKitGTK (MiniBrowser) driven by WebKitWebDriver over plain WebDriver HTTP, with
 * WebKit's mock camera and microphone, under a private Xvfb (WebKitGTK has no headless mode).
 * Never a downloaded browser: /usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser (override with
 * MINIBROWSER_PATH). Media runs through GStreamer: x264enc (plugins-ugly) for H.264 and avenc_aac
 * (libav) for AAC (scripts/ensure-system-deps.sh installs them).
 */

import { existsSync } from 'node:fs';
import { freePort, waitFor } from './ports.ts';

const MINIBROWSER = process.env.MINIBROWSER_PATH ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
const REQUEST_TIMEOUT_MS = 60_000;

/** One WebDriver session in MiniBrowser. */
export interface WebKitSession {
  /** Loads `url` and waits for the load. */
  navigate(url: string): Promise<void>;
  /** Runs `script` (a function body; `arguments` holds `args`) in the page and returns its result. */
  execute<T>(script: string, ...args: unknown[]): Promise<T>;
  /** A real click (WebDriver's element click: a user gesture) on the first element matching `selector`. */
  click(selector: string): Promise<void>;
  /** Ends the session, WebKitWebDriver and Xvfb (each by its PID). */
  close(): Promise<void>;
}

/** Starts Xvfb and WebKitWebDriver, and opens a MiniBrowser session with mock capture devices. */
export async function launchWebKit(): Promise<WebKitSession> {
  const display = await freeDisplay();
  const xvfb = Bun.spawn(['Xvfb', `:${display}`, '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' });
  const port = await freePort();
  let driver: ReturnType<typeof Bun.spawn> | undefined;
  const stopAll = async () => {
    for (const proc of [driver, xvfb]) {
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) continue;
      proc.kill('SIGTERM');
      const gone = await Promise.race([proc.exited.then(() => true), Bun.sleep(5000).then(() => false)]);
      if (!gone) proc.kill('SIGKILL');
    }
  };
  try {
    await waitFor(() => existsSync(`/tmp/.X11-unix/X${display}`) || xvfb.exitCode !== null, 15_000, 'Xvfb');
    if (xvfb.exitCode !== null) throw new Error(`Xvfb :${display} exited with ${xvfb.exitCode}`);
    driver = Bun.spawn(['WebKitWebDriver', `--port=${port}`], { env: { ...process.env, DISPLAY: `:${display}` }, stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' });
    const base = `http://127.0.0.1:${port}`;
    const request = async (method: string, path: string, body?: unknown): Promise<any> => {
      const response = await fetch(base + path, {
        method,
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const json = (await response.json()) as { value: any };
      if (!response.ok) throw new Error(`WebDriver ${method} ${path}: ${response.status} ${JSON.stringify(json.value).slice(0, 500)}`);
      return json.value;
    };
    await waitFor(async () => (await fetch(`${base}/status`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined))?.ok === true, 15_000, 'WebKitWebDriver');
    const created = await request('POST', '/session', {
      capabilities: {
        alwaysMatch: {
          'browserName': 'MiniBrowser',
          'webkitgtk:browserOptions': {
            binary: MINIBROWSER,
            args: ['--automation', '--enable-media-stream=true', '--enable-mock-capture-devices=true',
              '--features=+MediaStreamTrackProcessing,+MockCaptureDevices,-MockCaptureDevicesPrompt'],
          },
        },
      },
    });
    const session = `/session/${created.sessionId as string}`;
    return {
      navigate: async (url) => void (await request('POST', `${session}/url`, { url })),
      execute: async (script, ...args) => request('POST', `${session}/execute/sync`, { script, args }),
      click: async (selector) => {
        const element = await request('POST', `${session}/element`, { using: 'css selector', value: selector });
        await request('POST', `${session}/element/${Object.values(element)[0] as string}/click`, {});
      },
      close: async () => {
        await request('DELETE', session).catch(() => undefined);
        await stopAll();
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** An X display number with no server on it. */
async function freeDisplay(): Promise<number> {
  for (let n = 90 + (process.pid % 400); ; n++) {
    if (!existsSync(`/tmp/.X11-unix/X${n}`) && !existsSync(`/tmp/.X${n}-lock`)) return n;
  }
}
