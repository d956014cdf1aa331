import { randomUUID } from 'node:crypto';
import { waitFor } from './ports.ts';
import { startRelay, type RelayProcess } from './relay-process.ts';
import { startRtmpServer, type RtmpServer, type RtmpServerOptions } from './rtmp-server.ts';
import { makeToken } from './token.ts';
import type { StartMessage } from '../relay/public/protocol.ts';

/**
 * What most relay suites start from: a relay, real RTMP sinks (nginx-rtmp) it may publish to, a
 * secret and a token for it, start messages to the first sink, and a bounded wait until the relay is idle.
 */
export interface RelayFixture {
  readonly relay: RelayProcess;
  /** The first sink: where {@link startMessage} publishes. */
  readonly rtmp: RtmpServer;
  /** Every sink, `rtmp` first; all of them are on the relay's allow-list. */
  readonly sinks: readonly RtmpServer[];
  /** `RELAY_AUTH_SECRET`: a fresh random one per fixture, so no suite can lean on another's. */
  readonly secret: string;
  /** Signed with {@link secret}; valid for 10 minutes (see token.ts). */
  readonly token: string;
  /** `makeToken` (token.ts) with the fixture's secret, for tokens other than {@link token}. */
  makeToken(opts?: Parameters<typeof makeToken>[1]): Promise<string>;
  /** A start message to the first sink with `streamKey`: Matroska H.264 + Opus (a copy) unless `over` says otherwise. */
  startMessage(streamKey: string, over?: Partial<StartMessage>): StartMessage;
  /**
   * Another relay with the fixture's secret and every sink on its allow-list, and `env` on top (not
   * the fixture's own `env`); stopped by {@link stop} unless the test stops it first.
   */
  startRelay(env?: Record<string, string>): Promise<RelayProcess>;
  /** Resolves once every FFmpeg of `relay` (default: the fixture's) is reaped and every slot is back; fails after `timeoutMs`. */
  waitIdle(timeoutMs?: number, relay?: RelayProcess): Promise<void>;
  /** Stops every relay, then the sinks. */
  stop(): Promise<void>;
}

/** Options of {@link startRelayFixture}. */
export interface RelayFixtureOptions {
  /** Further relay variables; `RELAY_ALLOWED_INGESTS` names every sink unless given here. */
  readonly env?: (rtmp: RtmpServer, sinks: readonly RtmpServer[]) => Record<string, string>;
  /** How many sinks to start (default 1). */
  readonly sinks?: number;
  /** How each sink is started (rtmps in front with `tls`). */
  readonly rtmp?: RtmpServerOptions;
}

/** The Matroska H.264 + Opus of a Chromium `MediaRecorder`: the copy pipeline. */
export const MKV_H264_OPUS = 'video/x-matroska;codecs=avc1,opus';

/** Starts the sinks, then a relay allowed to publish to them, and mints a token. */
export async function startRelayFixture(opts: RelayFixtureOptions = {}): Promise<RelayFixture> {
  const secret = `relay-fixture-secret-${randomUUID()}`;
  const sinks = await Promise.all(Array.from({ length: opts.sinks ?? 1 }, () => startRtmpServer(opts.rtmp)));
  const relays: RelayProcess[] = [];
  const stopAll = async () => {
    await Promise.all(relays.map((r) => r.stop()));
    await Promise.all(sinks.map((s) => s.stop()));
  };
  const base = { RELAY_AUTH_SECRET: secret, RELAY_ALLOWED_INGESTS: sinks.map((s) => `rtmp://127.0.0.1:${s.port}`).join(',') };
  const another = async (env: Record<string, string> = {}) => {
    const relay = await startRelay({ ...base, ...env });
    relays.push(relay);
    return relay;
  };
  const rtmp = sinks[0]!;
  let relay: RelayProcess;
  try {
    relay = await another(opts.env?.(rtmp, sinks));
  } catch (e) {
    await stopAll();
    throw e;
  }
  const token = await makeToken(secret);
  return {
    relay,
    rtmp,
    sinks,
    secret,
    token,
    makeToken: (tokenOpts) => makeToken(secret, tokenOpts),
    startMessage: (streamKey, over = {}) => ({ type: 'start', token, ingest: rtmp.rtmpUrl, streamKey, mimeType: MKV_H264_OPUS, ...over }),
    startRelay: another,
    waitIdle: (timeoutMs, which = relay) => waitRelayIdle(which, timeoutMs),
    stop: stopAll,
  };
}

/** Resolves once every FFmpeg of `relay` is reaped and /healthz counts no slot; fails after `timeoutMs`. */
export async function waitRelayIdle(relay: RelayProcess, timeoutMs = 15_000): Promise<void> {
  await waitFor(async () => relay.ffmpegChildren().length === 0
    && ((await (await fetch(`${relay.httpUrl}/healthz`, { signal: AbortSignal.timeout(5000) })).json()) as { sessions: number }).sessions === 0,
  timeoutMs, 'every FFmpeg reaped and every slot back');
}
