import type { Subprocess } from 'bun';
import { PLAYBACK_PATH } from '../public/playback.ts';

/** Serves the sink's current stream as fragmented MP4 so the page can play it (see public/playback.ts). */
export interface PlaybackServer {
  /** Base URL the page gets as `?playback=`. */
  readonly url: string;
  stop(): Promise<void>;
}

export interface PlaybackServerOptions {
  /** HTTP-FLV URL of one of the sink's streams. */
  readonly flvUrl: (streamKey: string) => string;
  /** The stream the sink received most recently and still receives, if any. */
  readonly currentStream: () => string | undefined;
  /**
   * The one origin allowed to play (the demo relay's page, e.g. `http://127.0.0.1:8443`). A
   * request from any other origin, or with no `Origin` at all (`<video src>`, `<img>`), is
   * refused before any FFmpeg starts: other websites open in the same browser must not be able to
   * start processes on this machine.
   */
  readonly allowedOrigin: string;
  /** At most this many FFmpeg remuxes at once; more get 503. @default 2 */
  readonly maxChildren?: number;
  /** @default 'ffmpeg' */
  readonly ffmpegPath?: string;
}

/** The sink's stream names: node-media-server accepts only these characters, and they go into FFmpeg's argv. */
const STREAM_KEY = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * `GET /current.mp4` → FFmpeg reads the sink's current HTTP-FLV stream and remuxes it (`-c copy`,
 * no re-encode) to fragmented MP4 on stdout, streamed as the response. Browsers play fragmented
 * MP4 through Media Source Extensions, while HTTP-FLV would need a player library. There is no
 * route by stream key: the page never puts the key in a URL.
 */
export function startPlaybackServer(options: PlaybackServerOptions): PlaybackServer {
  const { flvUrl, currentStream, allowedOrigin, maxChildren = 2, ffmpegPath = 'ffmpeg' } = options;
  const children = new Set<Subprocess>();
  // The page is on another loopback port, so its fetch is cross-origin: CORS for that origin only.
  const cors = { 'access-control-allow-origin': allowedOrigin, 'vary': 'origin' };
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    // A live response can be quiet for a while (the sink waits for a keyframe): no idle cut-off.
    idleTimeout: 0,
    fetch(request) {
      if (request.headers.get('origin') !== allowedOrigin) return new Response('forbidden', { status: 403 });
      if (request.method !== 'GET') return new Response('method not allowed', { status: 405, headers: { ...cors, allow: 'GET' } });
      if (new URL(request.url).pathname !== `/${PLAYBACK_PATH}`) return new Response('not found', { status: 404, headers: cors });
      const streamKey = currentStream() ?? '';
      // No stream yet (the page retries), or a name that must not reach FFmpeg's argv.
      if (!STREAM_KEY.test(streamKey)) return new Response('no stream', { status: 404, headers: cors });
      if (children.size >= maxChildren) return new Response('busy', { status: 503, headers: { ...cors, 'retry-after': '1' } });
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
