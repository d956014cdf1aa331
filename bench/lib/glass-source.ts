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
  /** Start (and, with adaptation, maximum) video bitrate. @default the client's */
  readonly videoBitsPerSecond?: number;
  /** Lowest video bitrate the client adapts down to. @default the client's */
  readonly minVideoBitsPerSecond?: number;
  /**
   * Fill the picture around the time code with changing noise, so that the encoder spends its whole
   * bitrate (a grey canvas with one moving bar costs it a fraction of 2.5 Mbit/s, which no cap of
   * 1.5 Mbit/s would ever push back). @default false
   */
  readonly busy?: boolean;
}

/** What the page saw of the broadcast's bitrate over time (see {@link readGlassTrace}). */
export interface GlassTrace {
  /** The client's `bitrate` events: [Date.now(), videoBitsPerSecond, uplinkBitsPerSecond or null, backlogMs]. */
  readonly bitrate: [number, number, number | null, number][];
  /** Every 100 ms: [Date.now(), b.videoBitsPerSecond, b.bufferedAmount]. */
  readonly polled: [number, number, number][];
  /** `ready` events so far: more than one is a restarted recording. */
  readonly readies: number;
  /** The `ended` detail, once the broadcast has ended. */
  readonly ended?: { reason: string; code?: string };
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
  glassTrace: GlassTrace;
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
    // One noise picture made once (fresh noise every frame would cost more CPU than the encoder, and
    // be unlike a camera, whose frames resemble each other), 40 × 11 pixels scaled up smoothly into
    // large soft blobs, drawn twice each frame moving in opposite directions, blended: a picture that
    // changes everywhere in a way no single motion vector predicts. Measured through the shaped link
    // with no real cap (2 cores, busy): Chromium's software H.264 encoder sends 2.78 Mbit/s (video +
    // audio + overhead) for a 2.5 Mbit/s target, but 1.17 Mbit/s for a 0.5 Mbit/s one: below about
    // 1 Mbit/s it does not reach its target on this picture. Finer noise is worse: at 160 × 90 it sent
    // 1.54 Mbit/s for 0.5, at 320 × 90 about 6 Mbit/s whatever the target, and pixel-sized noise made
    // a first key frame over the relay's 1 MiB message limit.
    const noise = document.createElement('canvas');
    if (o.busy) {
      noise.width = layout.width / 32;
      noise.height = layout.height / 64;
      const c2d = noise.getContext('2d')!;
      const image = c2d.createImageData(noise.width, noise.height);
      for (let p = 0; p < image.data.length; p += 65536) crypto.getRandomValues(image.data.subarray(p, p + 65536));
      for (let p = 3; p < image.data.length; p += 4) image.data[p] = 255;
      c2d.putImageData(image, 0, 0);
    }
    let frame = 0;
    let drawing = true;
    let paints = 0;
    const draw = () => {
      if (!drawing) return;
      // Busy frames are drawn at 30 Hz, the capture's rate, not at every 60 Hz paint: half the CPU.
      if (o.busy && paints++ % 2 === 1) {
        requestAnimationFrame(draw);
        return;
      }
      // The stamp is the time the frame is drawn; the canvas capture takes it at the next paint.
      const now = Date.now();
      ctx.fillStyle = '#808080';
      ctx.fillRect(0, 0, layout.width, layout.height);
      if (o.busy) {
        frame++;
        const shift = (frame * 4) % layout.width;
        ctx.globalAlpha = 1;
        ctx.drawImage(noise, -shift, 0, layout.width * 2, layout.height);
        ctx.globalAlpha = 0.5;
        ctx.drawImage(noise, shift - layout.width, 0, layout.width * 2, layout.height);
        ctx.globalAlpha = 1;
        // The time code keeps a grey margin of one square, so the reader sees clean squares.
        ctx.fillStyle = '#808080';
        ctx.fillRect(layout.x - layout.cell, layout.y - layout.cell, (layout.cols + 2) * layout.cell, (layout.dataRows + 3) * layout.cell);
      }
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
      relayUrl: o.relayUrl,
      token: o.token,
      ingest: o.ingest,
      streamKey: o.streamKey,
      stream,
      capture: o.capture,
      preferCodec: 'h264',
      ...(o.videoBitsPerSecond === undefined ? {} : { videoBitsPerSecond: o.videoBitsPerSecond }),
      ...(o.minVideoBitsPerSecond === undefined ? {} : { minVideoBitsPerSecond: o.minVideoBitsPerSecond }),
    });
    const trace = { bitrate: [], polled: [], readies: 0 } as { -readonly [K in keyof GlassTrace]: GlassTrace[K] };
    w.glassTrace = trace;
    // `bitrate` is the in-place adaptation's event (issue #23); a client without it never calls this.
    type BitrateDetail = { videoBitsPerSecond: number; uplinkBitsPerSecond?: number; backlogMs: number };
    (b as unknown as { on(type: string, listener: (d: BitrateDetail) => void): void })
      .on('bitrate', (e) => trace.bitrate.push([Date.now(), e.videoBitsPerSecond, e.uplinkBitsPerSecond ?? null, e.backlogMs]));
    b.on('ready', () => trace.readies++);
    b.on('ended', (d) => (trace.ended = d));
    const poll = setInterval(() => trace.polled.push([Date.now(), b.videoBitsPerSecond, b.bufferedAmount]), 100);
    w.glass = {
      async stop() {
        clearInterval(poll);
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

/** What the page has recorded of the broadcast's bitrate so far. */
export function readGlassTrace(page: Page): Promise<GlassTrace> {
  return page.evaluate(() => (window as unknown as GlassWindow).glassTrace);
}

/** Stops the page's broadcast and resolves with the client's `ended` detail. */
export function stopGlassSource(page: Page): Promise<{ reason: string; code?: string }> {
  return page.evaluate(() => (window as unknown as GlassWindow).glass.stop());
}
