/**
 * The demo's playback server is reachable from every website open in the developer's browser
 * (it listens on loopback). It must start FFmpeg only for the demo relay's page, never for a
 * request naming a stream key, and never more than a few at once. FFmpeg is replaced by a script
 * that logs its arguments, prints a few bytes and then idles like a live remux.
 */

import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { waitFor } from '../../../harness/ports.ts';
import { startPlaybackServer, type PlaybackServer } from '../../demo/playback-server.ts';

const PAGE_ORIGIN = 'http://127.0.0.1:45678';

let dir: string;
let spawnLog: string;
let server: PlaybackServer;
let current: string | undefined;
const open: AbortController[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'transwrap-playback-test-'));
  spawnLog = join(dir, 'spawns.log');
  const fakeFfmpeg = join(dir, 'ffmpeg');
  await writeFile(fakeFfmpeg, `#!/bin/sh\necho "$*" >> '${spawnLog}'\nprintf 'ftyp'\nexec sleep 60\n`);
  await chmod(fakeFfmpeg, 0o755);
  server = startPlaybackServer({
    flvUrl: (key) => `http://127.0.0.1:1/live/${key}.flv`,
    currentStream: () => current,
    allowedOrigin: PAGE_ORIGIN,
    ffmpegPath: fakeFfmpeg,
  });
});

beforeEach(() => {
  current = 'demo-1a2b';
});

afterAll(async () => {
  for (const a of open) a.abort();
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function spawns(): Promise<string[]> {
  const text = await readFile(spawnLog, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l !== '');
}

/**
 * A request as a browser makes it (`origin: undefined` is a `<video src>` or a no-cors fetch).
 * Every response is left open until the test ends, as a playing page would; `abort` closes it.
 */
async function request(path: string, origin: string | undefined, method = 'GET'): Promise<Response & { abort(): void }> {
  const abort = new AbortController();
  open.push(abort);
  const res = await fetch(new URL(path, server.url), { method, signal: abort.signal, headers: origin ? { origin } : {} });
  return Object.assign(res, { abort: () => abort.abort() });
}

describe('demo playback server', () => {
  test('other origins, and requests with no Origin, are refused before any FFmpeg starts', async () => {
    for (const origin of [undefined, 'https://evil.example', 'http://127.0.0.1:45679', 'null']) {
      const res = await request('/current.mp4', origin);
      expect(res.status).toBe(403);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    }
    expect(await spawns()).toEqual([]);
  });

  test('no route by stream key, and no stream means 404', async () => {
    expect((await request('/live/demo-1a2b.mp4', PAGE_ORIGIN)).status).toBe(404);
    current = undefined;
    expect((await request('/current.mp4', PAGE_ORIGIN)).status).toBe(404);
    expect((await request('/current.mp4', PAGE_ORIGIN, 'POST')).status).toBe(405);
    expect(await spawns()).toEqual([]);
  });

  test('the relay page plays the current stream, with CORS for its origin only', async () => {
    const res = await request('/current.mp4', PAGE_ORIGIN);
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(PAGE_ORIGIN);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('ftyp');
    await waitFor(async () => (await spawns()).length === 1, 5000, 'the remux to start');
    expect((await spawns())[0]).toContain('-i http://127.0.0.1:1/live/demo-1a2b.flv');
    await reader.cancel();
  });

  test('at most two FFmpegs at once: a third request gets 503 until one ends', async () => {
    // The previous test's request was cancelled: wait until its FFmpeg is gone.
    const live: Awaited<ReturnType<typeof request>>[] = [];
    await waitFor(
      async () => {
        const res = await request('/current.mp4', PAGE_ORIGIN);
        if (res.status === 200) live.push(res);
        return live.length === 2;
      },
      10_000,
      'two remuxes to run',
    );
    const before = (await spawns()).length;
    const third = await request('/current.mp4', PAGE_ORIGIN);
    expect(third.status).toBe(503);
    expect(third.headers.get('access-control-allow-origin')).toBe(PAGE_ORIGIN);
    expect((await spawns()).length).toBe(before);
    // The page going away ends its FFmpeg, which frees a place.
    live[0]!.abort();
    let again: Response | undefined;
    await waitFor(
      async () => {
        again = await request('/current.mp4', PAGE_ORIGIN);
        return again.status === 200;
      },
      10_000,
      'a place to free up after the client left',
    );
    expect(again!.status).toBe(200);
  });
});
