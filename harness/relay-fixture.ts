import { waitFor } from './ports.ts';
import { startRelay, type RelayProcess } from './relay-process.ts';
import { startRtmpServer, type RtmpServer } from './rtmp-server.ts';
import { makeToken } from './token.ts';
import type { StartMessage } from '../relay/public/protocol.ts';

/**
 * What most relay suites start from: a relay, a real RTMP sink (nginx-rtmp) it may publish to, a
 * token for it, start messages to the sink, and a bounded wait until the relay is idle.
 */
export interface RelayFixture {
  readonly relay: RelayProcess;
  readonly rtmp: RtmpServer;
  /** Signed with the fixture's secret; valid for 10 minutes (see token.ts). */
  readonly token: string;
  /** A start message to the sink with `streamKey`: Matroska H.264 + Opus (a copy) unless `over` says otherwise. */
  startMessage(streamKey: string, over?: Partial<StartMessage>): StartMessage;
  /** Resolves once every FFmpeg of the relay is reaped and every slot is back; fails after `timeoutMs`. */
  waitIdle(timeoutMs?: number): Promise<void>;
  /** Stops the relay, then the sink. */
  stop(): Promise<void>;
}

/** Options of {@link startRelayFixture}. */
export interface RelayFixtureOptions {
  /** `RELAY_AUTH_SECRET`, and the key the token is signed with. */
  readonly secret: string;
  /** Further relay variables; `RELAY_ALLOWED_INGESTS` is the sink's unless given here. */
  readonly env?: (rtmp: RtmpServer) => Record<string, string>;
}

/** The Matroska H.264 + Opus of a Chromium `MediaRecorder`: the copy pipeline. */
export const MKV_H264_OPUS = 'video/x-matroska;codecs=avc1,opus';

/** Starts nginx-rtmp, then a relay allowed to publish to it, and mints a token. */
export async function startRelayFixture(opts: RelayFixtureOptions): Promise<RelayFixture> {
  const rtmp = await startRtmpServer();
  let relay: RelayProcess;
  try {
    relay = await startRelay({ RELAY_AUTH_SECRET: opts.secret, RELAY_ALLOWED_INGESTS: `rtmp://127.0.0.1:${rtmp.port}`, ...opts.env?.(rtmp) });
  } catch (e) {
    await rtmp.stop();
    throw e;
  }
  const token = await makeToken(opts.secret);
  return {
    relay,
    rtmp,
    token,
    startMessage: (streamKey, over = {}) => ({ type: 'start', token, ingest: rtmp.rtmpUrl, streamKey, mimeType: MKV_H264_OPUS, ...over }),
    waitIdle: (timeoutMs) => waitRelayIdle(relay, timeoutMs),
    async stop() {
      await relay.stop();
      await rtmp.stop();
    },
  };
}

/** Resolves once every FFmpeg of `relay` is reaped and /healthz counts no slot; fails after `timeoutMs`. */
export async function waitRelayIdle(relay: RelayProcess, timeoutMs = 15_000): Promise<void> {
  await waitFor(async () => relay.ffmpegChildren().length === 0
    && ((await (await fetch(`${relay.httpUrl}/healthz`)).json()) as { sessions: number }).sessions === 0, timeoutMs, 'every FFmpeg reaped and every slot back');
}
