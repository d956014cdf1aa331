/**
 * Page settings from the query string. Only non-secret values are read from the URL; a stream
 * key or token put there by mistake is removed from the address bar (and history) at once.
 */

/** What the query string may preset. */
export interface PageParams {
  /** Relay addresses, failover order (`?relay=wss://a:8443,wss://b:8443`). */
  readonly relays: string;
  /** Ingest URL (`?ingest=rtmp://127.0.0.1:1935/live/`). */
  readonly ingest: string;
  /** Codec preference (`?codec=vp8`). */
  readonly codec: string;
  /** Base URL of the demo's playback server (`?playback=http://127.0.0.1:PORT/`); enables the second video. */
  readonly playback: string | undefined;
  /** True when a secret was found in the URL and scrubbed. */
  readonly scrubbedSecret: boolean;
}

const SECRET_PARAMS = ['key', 'streamKey', 'stream_key', 'streamkey', 'token'];

/** Reads the query string and scrubs secrets from the address bar. */
export function readPageParams(location: Location, history: History): PageParams {
  const url = new URL(location.href);
  const params = url.searchParams;
  let scrubbedSecret = false;
  for (const name of SECRET_PARAMS) {
    if (params.has(name)) {
      params.delete(name);
      scrubbedSecret = true;
    }
  }
  if (scrubbedSecret) history.replaceState(null, '', url.toString());
  return {
    relays: params.get('relay') ?? '',
    ingest: params.get('ingest') ?? '',
    codec: params.get('codec') ?? 'auto',
    playback: params.get('playback') ?? undefined,
    scrubbedSecret,
  };
}

/** This page's own relay endpoint: the relay that served the page (ws on http, wss on https). */
export function sameOriginRelay(location: Location): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/stream`;
}
