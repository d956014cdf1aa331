/**
 * `npx projen demo`: the whole path on one machine in a minute.
 *
 *   page (camera) ──ws──▶ relay (auth off, loopback) ──▶ FFmpeg ──rtmp──▶ node-media-server
 *        ▲                                             └──rtmp──▶ second sink  │ HTTP-FLV
 *        └──── fragmented MP4 (FFmpeg remux, no re-encode) ◀── playback server ◀┘
 *
 * The second sink is for "Add a second destination" (docs/protocol.md#several-destinations).
 *
 * Everything binds 127.0.0.1 (the relay allows RELAY_AUTH=none only there). Opens nothing:
 * it prints the page URL. Ctrl-C stops everything.
 */

import { startPlaybackServer } from './playback-server.ts';
import { relayHttpUrl, startRelayChild } from './relay-child.ts';
import { startRtmpSink, type RtmpSink } from './rtmp-sink.ts';
import { freePort } from '../../harness/ports.ts';
import type { RelayProcess } from '../../harness/relay-process.ts';

const print = (line: string) => console.log(`[demo] ${line}`);

async function main(): Promise<void> {
  let sink: RtmpSink | undefined;
  let secondSink: RtmpSink | undefined;
  let relay: RelayProcess | undefined;
  let playback: ReturnType<typeof startPlaybackServer> | undefined;
  let stopping: Promise<void> | undefined;
  const shutdown = (code: number) =>
    (stopping ??= (async () => {
      print('stopping…');
      // Relay first: it ends FFmpeg's stdin and lets the sink see a clean unpublish.
      await relay?.stop().catch(() => undefined);
      await playback?.stop().catch(() => undefined);
      await sink?.stop().catch(() => undefined);
      await secondSink?.stop().catch(() => undefined);
      print('stopped');
      process.exit(code);
    })());
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  try {
    sink = await startRtmpSink();
    // The stream the playback server plays: the one the sink got last (the page never names its key).
    let current: string | undefined;
    sink.onPublish((key, state) => {
      if (state === 'start') current = key;
      else if (current === key) current = undefined;
      print(`RTMP sink: stream ${state === 'start' ? 'started' : 'ended'} (${key.slice(0, 5)}…)`);
    });
    secondSink = await startRtmpSink();
    secondSink.onPublish((key, state) => print(`second RTMP sink: stream ${state === 'start' ? 'started' : 'ended'} (${key.slice(0, 5)}…)`));
    const relayPort = Number(process.env.DEMO_RELAY_PORT ?? 0) || (await freePort());
    playback = startPlaybackServer({
      flvUrl: sink.flvUrl,
      currentStream: () => current,
      // Only the relay's page may play: other websites in the browser must not start FFmpegs here.
      allowedOrigin: new URL(relayHttpUrl(relayPort)).origin,
      ffmpegPath: process.env.RELAY_FFMPEG_PATH ?? 'ffmpeg',
    });
    relay = await startRelayChild(
      relayPort,
      {
        RELAY_TLS: 'off',
        RELAY_AUTH: 'none',
        RELAY_ALLOWED_INGESTS: `${sink.allowEntry},${secondSink.allowEntry}`,
        RELAY_SERVE_PAGE: 'on',
        // Ctrl-C should not wait the production drain time.
        RELAY_DRAIN_TIMEOUT_MS: '3000',
      },
      print,
    );
    void relay.exited.then((code) => {
      if (!stopping) {
        print(`the relay exited unexpectedly (code ${code})`);
        void shutdown(1);
      }
    });
  } catch (error) {
    print(`could not start: ${error instanceof Error ? error.message : String(error)}`);
    await shutdown(1);
    return;
  }

  const page = new URL(relay.httpUrl);
  page.searchParams.set('ingest', sink.ingest);
  page.searchParams.set('playback', playback.url);
  console.log(
    [
      '',
      '  Transwrap relay demo is running (loopback only, authentication off).',
      '',
      `  Open:  ${page.toString()}`,
      '',
      '  Allow the camera, press "Go live": your preview streams through the relay to the',
      '  embedded RTMP sink, and the right-hand video plays back what the sink received.',
      '  To publish to two destinations at once, press "Add a second destination" and enter',
      `  ${secondSink!.ingest} with any stream key.`,
      '  Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}

void main();
