import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import NodeMediaServer from 'node-media-server';
import nmsLogger from 'node-media-server/src/core/logger.js';
import { freePort } from '../../harness/ports.ts';

/** The embedded RTMP sink: node-media-server on loopback, with HTTP-FLV playback. */
export interface RtmpSink {
  /** Where to publish: `rtmp://127.0.0.1:<port>/live/` + stream key. */
  readonly ingest: string;
  /** Allow-list entry for the relay: `rtmp://127.0.0.1:<port>`. */
  readonly allowEntry: string;
  /** HTTP-FLV URL of a stream key. */
  flvUrl(streamKey: string): string;
  /** Called with the stream key each time a stream starts / ends. */
  onPublish(listener: (streamKey: string, state: 'start' | 'end') => void): void;
  stop(): Promise<void>;
}

/** Starts node-media-server on 127.0.0.1 free ports, without web admin, API or recording. */
export async function startRtmpSink(): Promise<RtmpSink> {
  const [rtmpPort, httpPort] = [await freePort(), await freePort()];
  // Its store writes files: keep them in a temp dir, never in the repo.
  const dataDir = await mkdtemp(join(tmpdir(), 'transwrap-demo-sink-'));
  const config = {
    bind: '127.0.0.1',
    rtmp: { port: rtmpPort },
    http: { port: httpPort },
    webadmin: { enable: false },
    store: { path: join(dataDir, 'data') },
    record: { auto: false, path: join(dataDir, 'record') },
  };
  // Its constructor prints a banner and forces debug logging: silence the banner, then keep warnings only.
  const log = console.log;
  console.log = () => undefined;
  let nms: NodeMediaServer;
  try {
    nms = new NodeMediaServer(config, join(dataDir, 'config.json'));
  } finally {
    console.log = log;
  }
  nmsLogger.level = 'warn';
  await nms.run();
  const keyOf = (streamPath: string) => streamPath.split('/')[2] ?? '';
  return {
    ingest: `rtmp://127.0.0.1:${rtmpPort}/live/`,
    allowEntry: `rtmp://127.0.0.1:${rtmpPort}`,
    flvUrl: (streamKey) => `http://127.0.0.1:${httpPort}/live/${encodeURIComponent(streamKey)}.flv`,
    onPublish(listener) {
      nms.on('postPublish', (s) => listener(keyOf(s.streamPath), 'start'));
      nms.on('donePublish', (s) => listener(keyOf(s.streamPath), 'end'));
    },
    async stop() {
      await nms.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
