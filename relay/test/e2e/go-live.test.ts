/**
 * "Go live" → `live`, as a new user meets it: Debian Chromium (fake camera), the relay's own page on
 * loopback, a real relay and nginx-rtmp. The page is loaded and its preview playing before the
 * click, as a user who types a stream key would have it; the time is split at the page's own
 * states: click → `connecting`, `connecting` → `ready`, `ready` → `live`. Ten runs per capture path;
 * the figures are printed for the bench and the report, and the bound asserted is generous (a busy
 * 2-core machine): the aim is p95 ≤ 1 s on an idle one.
 */

import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, stopBroadcast, waitForState } from './browser.ts';
import { startRelayFixture, type RelayFixture } from '../../../harness/relay-fixture.ts';

const RUNS = 10;
/** What a user spends before the click: reading the page, pasting a key. */
const BEFORE_CLICK_MS = 1500;
/** p95 of click → live asserted here: well above the 1 s aim, for a machine shared with other suites. */
const P95_BOUND_MS = 6000;
/**
 * p95 of click → `connecting`: with the capture path checked before the click, only the page's own
 * work is left (1.3–1.5 s when the WebCodecs trial ran after the click; about 0.1 s since).
 */
const CONNECTING_BOUND_MS = 1000;

let fx: RelayFixture;
let browser: Browser;

beforeAll(async () => {
  [fx, browser] = await Promise.all([startRelayFixture(), launchBrowser()]);
});

afterAll(async () => {
  await browser?.close();
  await fx?.stop();
});

/** One run's times, ms from the click. */
interface Timing {
  readonly connecting: number;
  readonly ready: number;
  readonly live: number;
}

/** Loads the page, fills the form, then clicks "Go live" and times the page's states until `live`. */
async function timeGoLive(page: Page, capture: 'webcodecs' | 'mediarecorder', streamKey: string): Promise<Timing> {
  await page.goto(`${fx.relay.httpUrl}/`);
  await page.waitForFunction(() => (document.getElementById('preview') as HTMLVideoElement).videoWidth > 0, undefined, { timeout: 15_000 });
  await page.fill('#ingest', fx.rtmp.rtmpUrl);
  await page.fill('#stream-key', streamKey);
  await page.fill('#token', await fx.makeToken());
  await page.selectOption('#capture', capture);
  await page.waitForTimeout(BEFORE_CLICK_MS);
  // The clock starts in the click's own handler (capture phase, before the page's), on the page's clock.
  await page.evaluate(() => {
    const marks: Record<string, number> = {};
    (window as unknown as { goLiveMarks: Record<string, number> }).goLiveMarks = marks;
    document.getElementById('start')!.addEventListener('click', () => (marks.click = performance.now()), { capture: true, once: true });
    const state = document.getElementById('state')!;
    new MutationObserver(() => (marks[state.dataset.state ?? ''] ??= performance.now())).observe(state, { attributes: true, attributeFilter: ['data-state'] });
  });
  await page.click('#start');
  await waitForState(page, 'live', 30_000);
  const marks = await page.evaluate(() => (window as unknown as { goLiveMarks: Record<string, number> }).goLiveMarks);
  return { connecting: marks.connecting! - marks.click!, ready: marks.ready! - marks.click!, live: marks.live! - marks.click! };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

describe.each(['webcodecs', 'mediarecorder'] as const)('go live, %s', (capture) => {
  test(`click → live over ${RUNS} runs, with its breakdown`, async () => {
    const timings: Timing[] = [];
    for (let i = 0; i < RUNS; i++) {
      const page = await browser.newPage();
      try {
        timings.push(await timeGoLive(page, capture, `go-live-${capture}-${i}-${Date.now()}`));
        expect(await page.textContent('#codec-info')).toContain(capture === 'webcodecs' ? 'from WebCodecs' : 'from MediaRecorder');
        await stopBroadcast(page);
      } finally {
        await page.close();
      }
    }
    const row = (name: string, values: number[]) => `${name.padEnd(22)} p50 ${Math.round(percentile(values, 50))} ms, p95 ${Math.round(percentile(values, 95))} ms, max ${Math.round(Math.max(...values))} ms`;
    console.log([
      `go live, ${capture} (${RUNS} runs):`,
      row('click → connecting', timings.map((t) => t.connecting)),
      row('connecting → ready', timings.map((t) => t.ready - t.connecting)),
      row('ready → live', timings.map((t) => t.live - t.ready)),
      row('click → live', timings.map((t) => t.live)),
    ].join('\n'));
    for (const t of timings) expect(t.connecting).toBeLessThanOrEqual(t.ready), expect(t.ready).toBeLessThanOrEqual(t.live);
    // The capture path was checked while the form was filled (prepareBroadcast): the click only connects.
    expect(percentile(timings.map((t) => t.connecting), 95)).toBeLessThanOrEqual(CONNECTING_BOUND_MS);
    expect(percentile(timings.map((t) => t.live), 95)).toBeLessThanOrEqual(P95_BOUND_MS);
  }, 300_000);
});
