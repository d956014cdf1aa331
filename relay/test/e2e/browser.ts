/**
 * The broadcaster page as a user drives it, in the system Chromium that harness/chromium.ts
 * launches (fake camera and microphone, never a downloaded browser).
 */

import { afterAll, beforeAll } from 'bun:test';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser } from '../../../harness/chromium.ts';
import { startRelay, type RelayProcess } from '../../../harness/relay-process.ts';
import { installStandInSocket, type StandInOptions } from '../../../harness/stand-in-socket.ts';

export { CHROMIUM_ARGS, launchBrowser } from '../../../harness/chromium.ts';

/** What the broadcaster page's form takes. */
export interface GoLiveInput {
  readonly ingest: string;
  readonly streamKey: string;
  readonly token?: string;
  /** Comma-separated relay addresses; empty = the page's own relay. */
  readonly relays?: string;
  readonly codec?: 'auto' | 'h264' | 'vp8';
  readonly capture?: 'auto' | 'webcodecs' | 'mediarecorder';
  /** A second destination, entered after pressing "Add a second destination". */
  readonly second?: { readonly ingest: string; readonly streamKey: string };
}

/** Opens the page, waits for the camera preview, fills the form and presses "Go live". */
export async function goLive(page: Page, url: string, input: GoLiveInput): Promise<void> {
  await page.goto(url);
  // The camera must be open (preview playing) before going live.
  await page.waitForFunction(() => (document.getElementById('preview') as HTMLVideoElement).videoWidth > 0, undefined, { timeout: 15_000 });
  await page.fill('#ingest', input.ingest);
  await page.fill('#stream-key', input.streamKey);
  await page.fill('#token', input.token ?? '');
  await page.fill('#relays', input.relays ?? '');
  await page.selectOption('#codec', input.codec ?? 'auto');
  await page.selectOption('#capture', input.capture ?? 'auto');
  if (input.second) {
    await page.click('#add-destination');
    await page.fill('#ingest-2', input.second.ingest);
    await page.fill('#stream-key-2', input.second.streamKey);
  }
  await page.click('#start');
}

/** Waits until the status panel shows `state` (idle, connecting, ready, live, stopping, ended, failed). */
export async function waitForState(page: Page, state: string, timeoutMs = 30_000): Promise<void> {
  await page.waitForSelector(`#state[data-state="${state}"]`, { timeout: timeoutMs });
}

/** The status panel's text, by field. */
export async function readStatus(page: Page): Promise<Record<string, string>> {
  return page.evaluate(() => {
    const ids = ['state', 'codec-info', 'pipeline', 'relay', 'bitrate-info', 'target-bitrate', 'uplink', 'fps', 'speed', 'dropped', 'buffered', 'message', 'log'];
    const out: Record<string, string> = {};
    for (const id of ids) out[id] = document.getElementById(id)?.textContent ?? '';
    out.messageCode = document.getElementById('message')?.dataset.code ?? '';
    return out;
  });
}

/** Presses Stop and waits for the page to report the end. */
export async function stopBroadcast(page: Page): Promise<void> {
  await page.click('#stop');
  await waitForState(page, 'ended', 30_000);
}

/** What {@link standInTestBed} gives a test file. */
export interface StandInTestBed {
  /** A new page on the relay's origin (a secure context), its WebSocket replaced by the stand-in relay. */
  openClientPage(options?: StandInOptions): Promise<Page>;
}

/**
 * For tests of the browser client against the harness's stand-in relay: a relay that only serves
 * the client module (and vendor/mediabunny.js) to the page, which no session ever reaches, and a
 * Chromium; both start before the file's tests and stop after them.
 */
export function standInTestBed(): StandInTestBed {
  let relay: RelayProcess | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    relay = await startRelay({ RELAY_AUTH: 'none', RELAY_ALLOWED_INGESTS: 'rtmp://127.0.0.1:1' });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await relay?.stop();
  });
  return {
    async openClientPage(options = {}) {
      const page = await browser!.newPage();
      await page.goto(`${relay!.httpUrl}/healthz`);
      await installStandInSocket(page, options);
      return page;
    },
  };
}
