// Glass-to-ingest latency per capture path: the time from a frame's capture in the browser to its
// arrival at the RTMP sink. Real Chromium runs the real client (WebCodecs, then MediaRecorder) on a
// canvas that stamps Date.now() into every frame (glass-source.ts); the stream goes through a fresh
// relay (copy pipeline) to nginx, and a low-delay FFmpeg player on the same machine, hence the same
// clock, reads the stamp back from each decoded frame (glass-player.ts): arrival − stamp is the figure.
// What it includes and excludes: bench/README.md#glass-to-ingest-latency.
import { rm } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import { playGlass } from './glass-player.ts';
import { startGlassSource, stopGlassSource } from './glass-source.ts';
import { readStamp, STAMP_LAYOUT, stampCrop } from './glass-stamp.ts';
import type { GlassToIngest } from './results.ts';
import { percentile } from './stats.ts';
import { launchBrowser } from '../../harness/chromium.ts';
import { startRelay, type RelayProcess } from '../../harness/relay-process.ts';
import type { RtmpServer } from '../../harness/rtmp-server.ts';

/** What the measurement needs from the bench. */
export interface GlassEnv {
  rtmp: RtmpServer;
  /** RELAY_ALLOWED_INGESTS: the local nginx. */
  allowedIngests: string;
  secret: string;
  token: string;
  /** Seconds measured per path, after the warm-up. */
  seconds: number;
  log: (line: string) => void;
}

/** Player start-up (waiting for a key frame, the first frames of a fresh decoder) is not measured. */
const WARMUP_MS = 3000;
/** A frame that took longer than this, or arrived before its stamp, was misread: the clock is shared. */
const MAX_PLAUSIBLE_MS = 30_000;
const PATHS = ['webcodecs', 'mediarecorder'] as const;

/** Measures both capture paths one after the other, each alone on an otherwise idle machine. */
export async function measureGlassToIngest(env: GlassEnv): Promise<GlassToIngest[]> {
  const relay = await startRelay({ RELAY_AUTH_SECRET: env.secret, RELAY_ALLOWED_INGESTS: env.allowedIngests });
  try {
    const browser = await launchBrowser();
    try {
      const out: GlassToIngest[] = [];
      for (const capture of PATHS) {
        env.log(`glass-to-ingest ${capture}: ${env.seconds} s after ${WARMUP_MS / 1000} s of warm-up`);
        const page = await browser.newPage();
        try {
          out.push(await measurePath(env, relay, page, capture));
        } finally {
          await page.close();
        }
      }
      return out;
    } finally {
      await browser.close();
    }
  } finally {
    await relay.stop();
  }
}

async function measurePath(
  env: GlassEnv,
  relay: RelayProcess,
  page: Page,
  capture: (typeof PATHS)[number],
): Promise<GlassToIngest> {
  const streamKey = `glass-${capture}-${crypto.randomUUID()}`;
  const started = await startGlassSource(page, `${relay.httpUrl}/healthz`, {
    relayUrl: relay.wsUrl, ingest: env.rtmp.rtmpUrl, streamKey, token: env.token, capture, layout: STAMP_LAYOUT,
  });
  if (started.capture !== capture) throw new Error(`glass-to-ingest: asked for ${capture}, the client used ${started.capture}`);

  const latencies: number[] = [];
  let unreadable = 0;
  let implausible = 0;
  let outOfOrder = 0;
  let repeated = 0;
  let framesBefore = 0;
  let last = Number.NEGATIVE_INFINITY;
  let windowStart = Number.NaN;
  let windowEnd = Number.NaN;
  let finished!: () => void;
  const windowDone = new Promise<void>((resolve) => (finished = resolve));
  const player = playGlass(`${env.rtmp.rtmpUrl}${streamKey}`, stampCrop(STAMP_LAYOUT), (gray, arrivedAt) => {
    if (Number.isNaN(windowStart)) {
      windowStart = arrivedAt + WARMUP_MS;
      windowEnd = windowStart + env.seconds * 1000;
    }
    if (arrivedAt < windowStart) {
      framesBefore++;
      return;
    }
    if (arrivedAt >= windowEnd) return finished();
    const stamp = readStamp(gray, STAMP_LAYOUT);
    if (stamp === undefined) {
      unreadable++;
      return;
    }
    const latency = arrivedAt - stamp;
    // A stamp that passed the check yet lies in the future, or long past, or goes back in time, was misread.
    if (latency < 0 || latency > MAX_PLAUSIBLE_MS) {
      implausible++;
    } else if (stamp < last) {
      outOfOrder++;
    } else if (stamp === last) {
      // The same picture again (a frame repeated to hold the rate): its first arrival was the sample.
      repeated++;
    } else {
      latencies.push(latency);
      last = stamp;
    }
  });
  // Frames that stop coming (a stalled stream, a player that never connects) end the wait here.
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const ended = await Promise.race([
      windowDone.then(() => 'window' as const),
      player.done.then(() => 'player exited' as const),
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), WARMUP_MS + env.seconds * 1000 + 15_000))),
    ]);
    if (ended !== 'window') {
      throw new Error(`glass-to-ingest ${capture}: ${ended} before the window closed (${framesBefore} frames in the warm-up, ${latencies.length} read);`
        + ` player: ${player.stderr().trim() || '(nothing)'}`);
    }
  } finally {
    clearTimeout(timer);
    await player.stop();
  }
  const endedWith = await stopGlassSource(page);
  if (endedWith.reason !== 'stopped') throw new Error(`glass-to-ingest ${capture}: the broadcast ended with ${JSON.stringify(endedWith)}`);
  await rm(env.rtmp.recordingPath(streamKey), { force: true });

  const frames = latencies.length + unreadable + implausible + outOfOrder + repeated;
  const result: GlassToIngest = {
    capture,
    mimeType: started.mimeType,
    pipeline: started.pipeline,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    max: latencies.length ? Math.max(...latencies) : Number.NaN,
    min: latencies.length ? Math.min(...latencies) : Number.NaN,
    samples: latencies.length,
    unreadable: unreadable + implausible + outOfOrder,
    repeated,
    fps: frames / env.seconds,
  };
  selfCheck(result, { frames, implausible, outOfOrder, seconds: env.seconds });
  return result;
}

/**
 * Fails loudly rather than report a figure the reader got wrong: no frame read, most frames
 * unreadable, or stamps that passed the check yet make no sense (a reader or layout bug).
 */
function selfCheck(r: GlassToIngest, c: { frames: number; implausible: number; outOfOrder: number; seconds: number }): void {
  const why: string[] = [];
  // The canvas is captured at 30 fps; a third of that would mean the source or the player is broken.
  if (r.samples < c.seconds * 10) why.push(`only ${r.samples} frames read in ${c.seconds} s (${c.frames} decoded)`);
  if (r.unreadable > c.frames * 0.1) why.push(`${r.unreadable} of ${c.frames} frames unreadable`);
  if (c.implausible + c.outOfOrder > Math.max(1, r.samples * 0.01)) {
    why.push(`${c.implausible} stamps out of range and ${c.outOfOrder} out of order among ${r.samples}: misread`);
  }
  if (why.length > 0) throw new Error(`glass-to-ingest ${r.capture}: ${why.join('; ')} (BENCH_GLASS=off skips this measurement)`);
}
