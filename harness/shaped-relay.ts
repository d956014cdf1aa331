// The relay behind a shaped link (harness/shaped-link.ts): the relay runs inside the link's network
// namespace, listening on the link's far address, and nginx-rtmp listens on the host end. What a
// browser on this machine uploads to the relay crosses the cap; the relay's way to nginx does not,
// as with a broadcaster on a slow uplink and a relay in a data centre. Used by the e2e tests and the bench.
import { randomUUID } from 'node:crypto';
import { startRelay, type RelayProcess, type StartRelayOptions } from './relay-process';
import { startRtmpServer, type RtmpServer } from './rtmp-server';
import { startShapedLink, type ShapedLink, type ShapedLinkOptions } from './shaped-link';
import { makeToken } from './token';

/** Options of {@link startShapedRelay}. */
export interface ShapedRelayOptions extends ShapedLinkOptions {
  /**
   * The relay's environment (docs/configuration.md#variables). `RELAY_HOST` is the link's far
   * address, `RELAY_ALLOWED_INGESTS` the local nginx and `RELAY_AUTH_SECRET` a fresh random one unless given.
   */
  readonly env?: Record<string, string>;
  /** Called with each output line of the relay. */
  readonly onLine?: StartRelayOptions['onLine'];
}

/** A relay behind a shaped link, started by {@link startShapedRelay}. */
export interface ShapedRelay {
  readonly link: ShapedLink;
  readonly relay: RelayProcess;
  /** nginx-rtmp on the link's host end; `rtmp.rtmpUrl` is the ingest to publish to. */
  readonly rtmp: RtmpServer;
  /**
   * The relay's own broadcaster page, through the cap: `http://<far address>:<port>/`. A 127.x
   * address, so a secure context: WebCodecs works there. The page's own relay is this relay.
   */
  readonly pageUrl: string;
  /** `ws://<far address>:<port>/v1/stream`: a WebSocket to it crosses the cap. */
  readonly wsUrl: string;
  /** `RELAY_AUTH_SECRET`. */
  readonly secret: string;
  /** `makeToken` (token.ts) with {@link secret}. */
  makeToken(opts?: Parameters<typeof makeToken>[1]): Promise<string>;
  /** Changes the upload cap in place (`link.setRate`). */
  setRate(mbit: number): Promise<void>;
  /** Stops the relay (SIGTERM, SIGKILL after 5 s), then nginx, then removes the link. Idempotent. */
  close(): Promise<void>;
}

/** Starts a shaped link, nginx-rtmp on its host end and a relay inside it; undoes all of it on failure. */
export async function startShapedRelay(opts: ShapedRelayOptions): Promise<ShapedRelay> {
  const link = await startShapedLink(opts);
  let rtmp: RtmpServer | undefined;
  let relay: RelayProcess | undefined;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      try {
        await relay?.stop();
        await rtmp?.stop();
      } finally {
        await link.close();
      }
    })();
    return closing;
  };
  const secret = opts.env?.RELAY_AUTH_SECRET ?? `shaped-relay-secret-${randomUUID()}`;
  try {
    rtmp = await startRtmpServer({ host: link.hostAddress });
    relay = await startRelay({
      RELAY_HOST: link.farAddress,
      RELAY_ALLOWED_INGESTS: rtmp.rtmpUrl.replace(/\/live\/$/, ''),
      ...opts.env,
      RELAY_AUTH_SECRET: secret,
    }, { onLine: opts.onLine, launch: (argv) => link.inside(argv) });
  } catch (e) {
    await close();
    throw e;
  }
  return {
    link,
    relay,
    rtmp,
    pageUrl: `${relay.httpUrl}/`,
    wsUrl: relay.wsUrl,
    secret,
    makeToken: (tokenOpts) => makeToken(secret, tokenOpts),
    setRate: (mbit) => link.setRate(mbit),
    close,
  };
}
