/**
 * Page settings from the query string. Only non-secret values are read from the URL; a stream
 * key or token put there by mistake is removed from the address bar (and history) at once.
 *
 * A link can be crafted by anyone, so nothing read here may send the stream key or the token
 * somewhere the user did not type: there is no relay-address preset (the page's own relay is the
 * default, other relays are typed by the user), and the demo's playback address is honoured only
 * when both this page and the playback server are on the user's own machine (loopback).
 */

import { STREAM_PATH } from './protocol.js';

/** What the query string may preset. */
export interface PageParams {
  /** Ingest URL (`?ingest=rtmp://127.0.0.1:1935/live/`); shown in the form, and the relay's allow-list still applies. */
  readonly ingest: string;
  /** Codec preference (`?codec=vp8`). */
  readonly codec: string;
  /** Capture path (`?capture=mediarecorder`). */
  readonly capture: string;
  /**
   * Origin of the local demo's playback server (`?playback=http://127.0.0.1:PORT/`), as
   * `http://127.0.0.1:PORT/`; enables the second video. Undefined unless both this page and that
   * URL are on a loopback host (see {@link loopbackPlaybackBase}).
   */
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
  const playback = params.get('playback');
  return {
    ingest: params.get('ingest') ?? '',
    codec: params.get('codec') ?? 'auto',
    capture: params.get('capture') ?? 'auto',
    playback: playback === null ? undefined : loopbackPlaybackBase(url, playback),
    scrubbedSecret,
  };
}

/**
 * True for the names a browser always resolves to this machine: `localhost`, `127.0.0.0/8` and
 * `[::1]` (as `URL.hostname` spells them; `URL` already turned `0x7f.1` and friends into dotted form).
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return host === 'localhost' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * The demo's playback server base (`http://127.0.0.1:PORT/`, origin only), or undefined when the
 * preset must be ignored: the page is not served from loopback (a relay on the internet is never
 * the local demo), or the value is not an http(s) URL on a loopback host.
 */
export function loopbackPlaybackBase(page: URL, value: string): string | undefined {
  if (!isLoopbackHost(page.hostname)) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.username !== '' || url.password !== '' || !isLoopbackHost(url.hostname)) return undefined;
  return `${url.origin}/`;
}

/** This page's own relay endpoint: the relay that served the page (ws on http, wss on https). */
export function sameOriginRelay(location: Location): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${STREAM_PATH}`;
}
