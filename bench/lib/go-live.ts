// Click "Go live" → state `live`, per capture path, as a new user sees it (issue #23 item 5): the
// relay's own page (relay/public, served by the relay) on loopback in Debian Chromium with its fake
// camera, a fresh browser context (cold cache, like a first visit) per run. The page is loaded and
// its camera preview playing, and the form filled 1.5 s before the click (what a user takes to
// paste a key), so the figure is what the click costs, not the page load. The times come from the
// page itself: the click event's timestamp and the moments the status panel's `data-state`
// changes, all on the page's own clock (performance.now()).
import type { Browser, Page } from 'playwright-core';
import type { GoLivePath, Spread } from './results.ts';
import { percentile } from './stats.ts';
import { withTimeout } from '../../harness/bounded.ts';
import { launchBrowser } from '../../harness/chromium.ts';
import { startRelay } from '../../harness/relay-process.ts';
import type { RtmpServer } from '../../harness/rtmp-server.ts';

/** What the measurement needs from the bench. */
export interface GoLiveEnv {
  rtmp: RtmpServer;
  /** RELAY_ALLOWED_INGESTS: the local nginx. */
  allowedIngests: string;
  secret: string;
  token: string;
  /** Runs per capture path. */
  runs: number;
  log: (line: string) => void;
}

/** One run's times, ms after the click. */
interface RunTimes {
  connecting: number;
  ready: number;
  live: number;
}

const PATHS = ['webcodecs', 'mediarecorder'] as const;
const PREVIEW_TIMEOUT_MS = 15_000;
const LIVE_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;
/** Playwright's actions time out by themselves (30 s); these calls do not. */
const BROWSER_TIMEOUT_MS = 30_000;
const EVALUATE_TIMEOUT_MS = 10_000;
/**
 * What a user spends between filling the form and the click (reading the page, pasting a key):
 * the page prepares the capture path meanwhile (prepareBroadcast), as relay/test/e2e/go-live.test.ts
 * allows too. Without it the click would land while the form's last change is still being prepared.
 */
const BEFORE_CLICK_MS = 1500;

// The page keeps what the hooks saw here.
interface GoLiveWindow {
  goLiveTimes: { click?: number; states: Record<string, number> };
}

/** Measures `runs` go-lives per capture path, one at a time, through one fresh relay. */
export async function measureGoLive(env: GoLiveEnv): Promise<GoLivePath[]> {
  const relay = await startRelay({ RELAY_AUTH_SECRET: env.secret, RELAY_ALLOWED_INGESTS: env.allowedIngests });
  try {
    const browser = await withTimeout(launchBrowser(), BROWSER_TIMEOUT_MS, 'Chromium to launch');
    try {
      const out: GoLivePath[] = [];
      for (const capture of PATHS) {
        const runs: RunTimes[] = [];
        for (let i = 0; i < env.runs; i++) {
          const t = await oneRun(env, browser, `${relay.httpUrl}/`, capture);
          env.log(`go-live ${capture} run ${i + 1}/${env.runs}: click → connecting ${t.connecting.toFixed(0)} ms, → ready ${t.ready.toFixed(0)} ms, → live ${t.live.toFixed(0)} ms`);
          runs.push(t);
        }
        out.push({
          capture,
          runs: runs.length,
          clickToLive: spread(runs.map((r) => r.live)),
          clickToConnecting: spread(runs.map((r) => r.connecting)),
          connectingToReady: spread(runs.map((r) => r.ready - r.connecting)),
          readyToLive: spread(runs.map((r) => r.live - r.ready)),
        });
      }
      return out;
    } finally {
      await withTimeout(browser.close(), BROWSER_TIMEOUT_MS, 'Chromium to close');
    }
  } finally {
    await relay.stop();
  }
}

async function oneRun(env: GoLiveEnv, browser: Browser, pageUrl: string, capture: (typeof PATHS)[number]): Promise<RunTimes> {
  const context = await withTimeout(browser.newContext(), BROWSER_TIMEOUT_MS, 'a new browser context');
  const streamKey = `go-live-${capture}-${crypto.randomUUID()}`;
  try {
    const page = await withTimeout(context.newPage(), BROWSER_TIMEOUT_MS, 'a new page');
    await page.goto(pageUrl, { timeout: PREVIEW_TIMEOUT_MS });
    await page.waitForFunction(() => (document.getElementById('preview') as HTMLVideoElement).videoWidth > 0, undefined, { timeout: PREVIEW_TIMEOUT_MS });
    await page.fill('#ingest', env.rtmp.rtmpUrl);
    await page.fill('#stream-key', streamKey);
    await page.fill('#token', env.token);
    await page.selectOption('#codec', 'h264');
    await page.selectOption('#capture', capture);
    await withTimeout(installHooks(page), EVALUATE_TIMEOUT_MS, 'the timing hooks to be installed in the page');
    await Bun.sleep(BEFORE_CLICK_MS);
    await page.click('#start');
    const end = await page.waitForSelector('#state[data-state="live"], #state[data-state="failed"]', { timeout: LIVE_TIMEOUT_MS })
      .catch(async () => {
        throw new Error(`go-live ${capture}: not live ${LIVE_TIMEOUT_MS} ms after the click (state ${await page.textContent('#state')})`);
      });
    if ((await end.getAttribute('data-state')) === 'failed') {
      throw new Error(`go-live ${capture}: the page failed: ${await page.textContent('#message')}`);
    }
    // The page names the capture path in use; a fallback to the other path would measure the wrong one.
    const used = (await page.textContent('#codec-info')) ?? '';
    if (!used.includes(capture === 'webcodecs' ? 'from WebCodecs' : 'from MediaRecorder')) {
      throw new Error(`go-live: asked for ${capture}, the page says "${used}"`);
    }
    const times = await withTimeout(page.evaluate(() => (window as unknown as GoLiveWindow).goLiveTimes), EVALUATE_TIMEOUT_MS, 'the page\'s timings');
    const { click } = times;
    const { connecting, ready, live } = times.states;
    if (click === undefined || connecting === undefined || ready === undefined || live === undefined) {
      throw new Error(`go-live ${capture}: the page did not pass through click, connecting, ready and live: ${JSON.stringify(times)}`);
    }
    await page.click('#stop');
    await page.waitForSelector('#state[data-state="ended"]', { timeout: STOP_TIMEOUT_MS }).catch(() => {
      throw new Error(`go-live ${capture}: not ended ${STOP_TIMEOUT_MS} ms after Stop`);
    });
    return { connecting: connecting - click, ready: ready - click, live: live - click };
  } finally {
    await withTimeout(context.close(), BROWSER_TIMEOUT_MS, 'the browser context to close');
    await Bun.file(env.rtmp.recordingPath(streamKey)).delete().catch(() => undefined);
  }
}

/**
 * Records the click's event timestamp and the first time the status panel shows each state. Both
 * are on performance.now()'s clock: the event's timeStamp is when the browser created it, before
 * any handler ran.
 */
function installHooks(page: Page): Promise<void> {
  return page.evaluate(() => {
    const w = window as unknown as GoLiveWindow;
    w.goLiveTimes = { states: {} };
    document.getElementById('start')!.addEventListener('click', (e) => (w.goLiveTimes.click = e.timeStamp), { capture: true, once: true });
    const state = document.getElementById('state')!;
    new MutationObserver(() => {
      const s = state.dataset.state ?? '';
      if (!(s in w.goLiveTimes.states)) w.goLiveTimes.states[s] = performance.now();
    }).observe(state, { attributes: true, attributeFilter: ['data-state'] });
  });
}

function spread(values: number[]): Spread {
  return { p50: percentile(values, 50), p95: percentile(values, 95), min: Math.min(...values), max: Math.max(...values) };
}
