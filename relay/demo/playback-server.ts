import type { Subprocess } from 'bun';

/** Serves the sink's streams as fragmented MP4 so the page can play them (see public/playback.ts). */
export interface PlaybackServer {
  /** Base URL the page gets as `?playback=`. */
  readonly url: string;
  stop(): Promise<void>;
}

/** The sink's stream names: node-media-server accepts only these characters, and they go into FFmpeg's argv. */
const STREAM_KEY = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * `GET /live/<key>.mp4` → FFmpeg reads the sink's HTTP-FLV and remuxes it (`-c copy`, no
 * re-encode) to fragmented MP4 on stdout, streamed as the response. Browsers play fragmented
 * MP4 through Media Source Extensions, while HTTP-FLV would need a player library.
 */
export function startPlaybackServer(flvUrl: (streamKey: string) => string, ffmpegPath = 'ffmpeg'): PlaybackServer {
  const children = new Set<Subprocess>();
  const cors = { 'access-control-allow-origin': '*' };
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    // A live response can be quiet for a while (the sink waits for a keyframe): no idle cut-off.
    idleTimeout: 0,
    fetch(request) {
      const match = /^\/live\/([^/]+)\.mp4$/.exec(new URL(request.url).pathname);
      const streamKey = match ? decodeURIComponent(match[1]!) : '';
      if (!STREAM_KEY.test(streamKey)) return new Response('not found', { status: 404, headers: cors });
      const child = Bun.spawn(
        [
          ffmpegPath, '-hide_banner', '-nostdin', '-loglevel', 'error',
          '-fflags', 'nobuffer', '-analyzeduration', '1000000',
          '-i', flvUrl(streamKey),
          // Video is required (if the probe missed it, fail and let the page retry rather than
          // play sound only); audio is optional (a broadcast without a microphone).
          '-map', '0:v:0', '-map', '0:a:0?',
          '-c', 'copy',
          // empty_moov: the init segment comes first; short fragments keep the playback close to live.
          '-f', 'mp4', '-movflags', 'empty_moov+default_base_moof+frag_keyframe', '-frag_duration', '250000',
          'pipe:1',
        ],
        { stdin: 'ignore', stdout: 'pipe', stderr: 'ignore' },
      );
      children.add(child);
      void child.exited.then(() => children.delete(child));
      // The page closing the request (or the demo stopping) ends this FFmpeg.
      request.signal.addEventListener('abort', () => child.kill());
      return new Response(child.stdout, { headers: { ...cors, 'content-type': 'video/mp4', 'cache-control': 'no-store' } });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/`,
    async stop() {
      for (const child of children) child.kill();
      await Promise.all([...children].map((c) => c.exited));
      await server.stop(true);
    },
  };
}
