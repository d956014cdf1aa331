/**
 * The README's main job, `npx projen demo` (= `bun relay/demo/demo.ts`): the printed page goes
 * live through the relay into the embedded node-media-server sink and plays back what the sink
 * received; Ctrl-C (SIGINT) stops everything. Screenshots the page to test-reports/broadcaster.png
 * (and to docs/broadcaster.png with UPDATE_DOCS_SCREENSHOT=1: a test run never changes the tree).
 */

import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { afterAll, beforeAll, expect, test } from 'bun:test';
import type { Browser } from 'playwright-core';
import { launchBrowser, readStatus, stopBroadcast, waitForState } from './browser.ts';
import { waitFor } from '../../../harness/ports.ts';
import { REPO_ROOT, baseEnv } from '../../../harness/relay-process.ts';

let demo: Subprocess<'ignore', 'pipe', 'pipe'> | undefined;
let output = '';
let browser: Browser;

beforeAll(async () => {
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  if (demo && demo.exitCode === null) {
    // Only reached when the test failed before its own SIGINT.
    demo.kill('SIGINT');
    const done = await Promise.race([demo.exited.then(() => true), Bun.sleep(15_000).then(() => false)]);
    if (!done) demo.kill('SIGKILL');
  }
});

async function collect(stream: ReadableStream<Uint8Array>): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) output += decoder.decode(chunk, { stream: true });
}

test('demo: camera → relay → node-media-server, played back in the page; SIGINT stops everything', async () => {
  demo = Bun.spawn([process.execPath, join(REPO_ROOT, 'relay/demo/demo.ts')], {
    cwd: REPO_ROOT,
    env: baseEnv(),
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  void collect(demo.stdout);
  void collect(demo.stderr);
  await waitFor(() => /Open:\s+http:\/\/\S+/.test(output), 20_000, 'the demo to print its URL');
  const url = /Open:\s+(http:\/\/\S+)/.exec(output)![1]!;
  const relayOrigin = new URL(url).origin;
  expect(new URL(url).hostname).toBe('127.0.0.1');
  expect(url).not.toMatch(/key|token/i);
  const playbackBase = new URL(url).searchParams.get('playback')!;
  expect(new URL(playbackBase).hostname).toBe('127.0.0.1');

  // A crafted link to the same page cannot point the relay field or the playback elsewhere.
  const crafted = await browser.newPage();
  const craftedRequests: string[] = [];
  crafted.on('request', (r) => craftedRequests.push(r.url()));
  const evil = new URL(url);
  evil.searchParams.set('relay', 'ws://evil.example:1/');
  evil.searchParams.set('playback', 'http://evil.example/');
  await crafted.goto(evil.toString());
  await crafted.waitForFunction(() => (document.getElementById('preview') as HTMLVideoElement).videoWidth > 0, undefined, { timeout: 15_000 });
  expect(await crafted.inputValue('#relays')).toBe('');
  expect(await crafted.isVisible('#playback-figure')).toBe(false);
  expect(await crafted.inputValue('#stream-key')).toBe('');
  await crafted.close();
  expect(craftedRequests.filter((u) => new URL(u).hostname.endsWith('evil.example'))).toEqual([]);

  const page = await browser.newPage({ viewport: { width: 1280, height: 1180 } });
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(url);
  await page.waitForFunction(() => (document.getElementById('preview') as HTMLVideoElement).videoWidth > 0, undefined, { timeout: 15_000 });
  // The demo pre-fills everything: the page works with one click.
  const streamKey = await page.inputValue('#stream-key');
  expect(streamKey).toMatch(/^demo-[0-9a-f]+$/);
  // The second sink the demo prints, as a second destination.
  const second = /enter\s+(rtmp:\/\/127\.0\.0\.1:\d+\/live\/) with any stream key/.exec(output)![1]!;
  await page.click('#add-destination');
  await page.fill('#ingest-2', second);
  await page.fill('#stream-key-2', 'demo-second');
  await page.click('#start');
  await waitForState(page, 'live');
  // The sink's stream, played back: decoded video frames in the second <video>.
  await page.waitForFunction(
    () => {
      const v = document.getElementById('playback') as HTMLVideoElement;
      return v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames > 20;
    },
    undefined,
    { timeout: 30_000 },
  );
  // Stats (about every 2 s) in the picture too.
  await page.waitForFunction(() => /kbps/.test(document.getElementById('bitrate-info')?.textContent ?? ''), undefined, { timeout: 15_000 });
  const status = await readStatus(page);
  expect(status.state).toBe('live');
  expect(status.pipeline).toStartWith('copy');
  expect(output).toContain('[demo] RTMP sink: stream started');
  await waitFor(() => output.includes('[demo] second RTMP sink: stream started'), 15_000, 'the second sink to get the stream');
  // The playback came from the demo's server, and no URL the page asked for held the stream key.
  expect(requests.some((u) => u.startsWith(playbackBase))).toBe(true);
  expect(requests.filter((u) => u.includes(streamKey))).toEqual([]);

  await mkdir(join(REPO_ROOT, 'test-reports'), { recursive: true });
  const shot = join(REPO_ROOT, 'test-reports', 'broadcaster.png');
  await page.screenshot({ path: shot });
  if (process.env.UPDATE_DOCS_SCREENSHOT === '1') await copyFile(shot, join(REPO_ROOT, 'docs', 'broadcaster.png'));

  await stopBroadcast(page);
  await page.close();

  demo.kill('SIGINT');
  const code = await Promise.race([demo.exited, Bun.sleep(20_000).then(() => 'timeout' as const)]);
  expect(code).toBe(0);
  expect(output).toContain('[demo] stopped');
  // The relay child is gone with it.
  const stillUp = await fetch(`${relayOrigin}/healthz`).then(() => true, () => false);
  expect(stillUp).toBe(false);
});
