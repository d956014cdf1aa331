/**
 * Debian Chromium driven by playwright-core, with a fake camera and microphone. Never downloads
 * a browser: the system one at /usr/bin/chromium (override with CHROMIUM_PATH). Shared by the
 * end-to-end tests (relay/test/e2e) and the benchmark's glass-to-ingest figure (bench/).
 */

import { chromium, type Browser } from 'playwright-core';

/** Flags: fake devices granted without a prompt, and no background traffic or sandbox (containers). */
export const CHROMIUM_ARGS = [
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launches the system Chromium. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
}
