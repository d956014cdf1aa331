// The browser side of the glass-to-ingest measurement: a page of the relay's own origin (so the
// client module loads as it does in production; http://127.0.0.1 is a secure context, so WebCodecs
// works) draws the time code on a canvas at every animation frame, captures it at 30 fps with a
// WebAudio tone as the audio track, and broadcasts it with the real client (relay/public/broadcast-client.ts).
import type { Page } from 'playwright-core';
import { stampCells, type StampLayout } from './glass-stamp.ts';

/** What one broadcast of the time code needs. */
export interface GlassSourceOptions {
  readonly relayUrl: string;
  readonly ingest: string;
  readonly streamKey: string;
  readonly token: string;
  readonly capture: 'webcodecs' | 'mediarecorder';
  readonly layout: StampLayout;
}

/** What the client reported when the relay accepted the session. */
export interface GlassSourceStarted {
  readonly capture: 'webcodecs' | 'mediarecorder';
  readonly mimeType: string;
  readonly pipeline: 'copy' | 'transcode';
}

// The page keeps its broadcast here so that a later evaluate can stop it.
interface GlassWindow {
  glassStampCells: typeof stampCells;
  glass: { stop(): Promise<{ reason: string; code?: string }> };
}

const LIVE_TIMEOUT_MS = 20_000;

/**
 * Opens `pageUrl` (any page of the relay: the client module is imported from `/broadcast-client.js`),
 * starts drawing and broadcasting, and resolves once the relay says `live`. Rejects with the client's
 * error (or after 20 s) otherwise.
 */
export async function startGlassSource(page: Page, pageUrl: string, opts: GlassSourceOptions): Promise<GlassSourceStarted> {
  await page.goto(pageUrl);
  // The page draws with the very function the reader is the inverse of: its source text, evaluated there.
  await page.evaluate(`window.glassStampCells = ${stampCells.toString()}`);
  return page.evaluate(async ({ o, liveTimeoutMs }) => {
    const w = window as unknown as GlassWindow;
    const { layout } = o;
    const canvas = document.createElement('canvas');
    canvas.width = layout.width;
    canvas.height = layout.height;
    document.body.append(canvas);
    const ctx = canvas.getContext('2d')!;
    let drawing = true;
    const draw = () => {
      if (!drawing) return;
      // The stamp is the time the frame is drawn; the canvas capture takes it at the next paint.
      const now = Date.now();
      ctx.fillStyle = '#808080';
      ctx.fillRect(0, 0, layout.width, layout.height);
      // Something that moves, so the encoder codes motion as with a camera, not a still picture.
      ctx.fillStyle = '#303030';
      ctx.fillRect((now / 4) % layout.width, 0, 96, layout.height);
      w.glassStampCells(now, layout).forEach((white, i) => {
        ctx.fillStyle = white ? '#ffffff' : '#000000';
        ctx.fillRect(layout.x + (i % layout.cols) * layout.cell, layout.y + Math.floor(i / layout.cols) * layout.cell, layout.cell, layout.cell);
      });
      requestAnimationFrame(draw);
    };
    draw();
    const audio = new AudioContext();
    const tone = audio.createOscillator();
    const toStream = audio.createMediaStreamDestination();
    tone.connect(toStream);
    tone.start();
    const stream = new MediaStream([...canvas.captureStream(30).getVideoTracks(), ...toStream.stream.getAudioTracks()]);

    const moduleUrl = '/broadcast-client.js';
    const { startBroadcast } = (await import(moduleUrl)) as typeof import('../../relay/public/broadcast-client.ts');
    const b = startBroadcast({
      relayUrl: o.relayUrl, token: o.token, ingest: o.ingest, streamKey: o.streamKey, stream, capture: o.capture, preferCodec: 'h264',
    });
    w.glass = {
      async stop() {
        await b.stop();
        drawing = false;
        stream.getTracks().forEach((t) => t.stop());
        await audio.close();
        return b.done;
      },
    };
    let started: GlassSourceStarted | undefined;
    b.on('ready', (d) => (started = { capture: d.capture, mimeType: d.mimeType, pipeline: d.pipeline }));
    await new Promise<void>((resolve, reject) => {
      b.on('live', () => resolve());
      b.on('error', (e) => reject(new Error(`${e.code}: ${e.message}`)));
      setTimeout(() => reject(new Error(`not live after ${liveTimeoutMs} ms (state ${b.state})`)), liveTimeoutMs);
    });
    return started!;
  }, { o: opts, liveTimeoutMs: LIVE_TIMEOUT_MS });
}

/** Stops the page's broadcast and resolves with the client's `ended` detail. */
export function stopGlassSource(page: Page): Promise<{ reason: string; code?: string }> {
  return page.evaluate(() => (window as unknown as GlassWindow).glass.stop());
}
