// The ingest side of the glass-to-ingest measurement: FFmpeg plays the live stream back from nginx
// as a viewer would, set for the least delay it can add, and hands each decoded frame (cropped to
// the time code, grey) to the bench the moment its last byte is out of the pipe.

/** A running player. */
export interface GlassPlayer {
  /** Resolves when FFmpeg has exited and every frame it wrote has been handed over. */
  readonly done: Promise<void>;
  /** FFmpeg's stderr so far (the end of it), for error messages. */
  stderr(): string;
  /** Stops FFmpeg (SIGTERM, then SIGKILL after 2 s) and waits for `done`. */
  stop(): Promise<void>;
}

/**
 * Plays `url` and calls `onFrame` with each frame's luma (`crop.w` × `crop.h` bytes) and the time
 * it arrived. The buffer is reused: read it inside the callback.
 */
export function playGlass(
  url: string,
  crop: { x: number; y: number; w: number; h: number },
  onFrame: (gray: Uint8Array, arrivedAt: number) => void,
): GlassPlayer {
  const proc = Bun.spawn([
    'ffmpeg', '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
    // No input buffering, a small probe, no waiting to analyse streams: start decoding at once.
    '-fflags', 'nobuffer', '-probesize', '32768', '-analyzeduration', '0',
    // low_delay: no frame reordering delay and no frame-threaded decoding (which holds one frame per thread).
    '-flags', 'low_delay', '-threads', '1',
    '-i', url,
    '-an', '-map', '0:v:0',
    '-vf', `crop=${crop.w}:${crop.h}:${crop.x}:${crop.y},format=gray`,
    // One output frame per decoded frame (no duplicates or drops to hold a frame rate), each
    // flushed to the pipe as soon as it is written.
    '-fps_mode', 'passthrough', '-flush_packets', '1',
    '-f', 'rawvideo', 'pipe:1',
  ], { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });

  let errText = '';
  const errDone = (async () => {
    for await (const chunk of proc.stderr) errText = (errText + new TextDecoder().decode(chunk)).slice(-4000);
  })();
  const frameBytes = crop.w * crop.h;
  const frame = new Uint8Array(frameBytes);
  const outDone = (async () => {
    let filled = 0;
    for await (const chunk of proc.stdout) {
      let offset = 0;
      while (offset < chunk.length) {
        const n = Math.min(frameBytes - filled, chunk.length - offset);
        frame.set(chunk.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
        if (filled === frameBytes) {
          onFrame(frame, Date.now());
          filled = 0;
        }
      }
    }
  })();
  const done = Promise.all([outDone, errDone, proc.exited]).then(() => undefined);
  return {
    done,
    stderr: () => errText,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 2000);
        await done;
        clearTimeout(timer);
      }
      await done;
    },
  };
}
