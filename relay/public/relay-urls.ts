/** Turns what users paste as "relay address" into WebSocket endpoint URLs. */

import { HEALTH_PATH, STREAM_PATH } from './protocol.js';

/**
 * Normalizes one relay address: `https://host:8443` → `wss://host:8443/v1/stream`,
 * `http://` → `ws://`, a bare `host:port` → `wss://host:port/v1/stream`; a URL that already
 * has a path other than `/` is kept as given.
 */
export function toStreamUrl(address: string): string {
  const trimmed = address.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `wss://${trimmed}`;
  const url = new URL(withScheme);
  if (url.protocol === 'https:') url.protocol = 'wss:';
  else if (url.protocol === 'http:') url.protocol = 'ws:';
  if (url.protocol !== 'wss:' && url.protocol !== 'ws:') {
    throw new TypeError(`relay address must be ws(s):// or http(s)://, got ${url.protocol}`);
  }
  if (url.pathname === '/' || url.pathname === '') url.pathname = STREAM_PATH;
  return url.toString();
}

/** Normalizes one address or a list (comma/whitespace-separated strings are split). Order is the failover order. */
export function toStreamUrls(addresses: string | readonly string[]): string[] {
  const list = typeof addresses === 'string' ? addresses.split(/[\s,]+/) : [...addresses];
  return list.filter((a) => a.trim() !== '').map(toStreamUrl);
}

/**
 * The https:// page of the relay behind a wss:// endpoint. Opening it lets a user accept a
 * self-signed certificate, after which the browser allows the WebSocket too.
 */
export function certificatePageUrl(streamUrl: string): string | undefined {
  const url = new URL(streamUrl);
  if (url.protocol !== 'wss:') return undefined;
  return `https://${url.host}${HEALTH_PATH}`;
}
