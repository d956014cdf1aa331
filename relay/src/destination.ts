import { getDomain } from 'tldts';

/** One entry of `RELAY_ALLOWED_INGESTS`. */
export interface IngestPattern {
  readonly scheme: 'rtmp' | 'rtmps';
  /** Matches the whole lower-case host name. */
  readonly host: RegExp;
  readonly port: number;
  /** The pattern as configured, for logs. */
  readonly source: string;
}

const DEFAULT_PORTS = { rtmp: 1935, rtmps: 443 } as const;
const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';

/**
 * Parses the comma-separated allow-list: `scheme://host-pattern[:port]`, where `*` stands for one
 * or more whole DNS labels, and a missing port means the scheme's default port only.
 * @throws Error naming the first malformed entry
 */
export function parseAllowList(value: string): IngestPattern[] {
  const entries = value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (entries.length === 0) throw new Error('expected at least one scheme://host-pattern[:port]');
  return entries.map((entry) => {
    const m = /^(rtmps?):\/\/([a-z0-9*.-]+)(?::(\d{1,5}))?\/?$/i.exec(entry);
    if (!m) throw new Error(`"${entry}" is not scheme://host-pattern[:port] with scheme rtmp or rtmps`);
    const scheme = m[1]!.toLowerCase() as 'rtmp' | 'rtmps';
    const labels = m[2]!.toLowerCase().split('.');
    if (labels.some((l) => l === '' || (l !== '*' && !new RegExp(`^${LABEL}$`).test(l)))) {
      throw new Error(`"${entry}" has an invalid host pattern`);
    }
    // A pattern must pin a domain someone registered: `*`, `*.*`, `*.com`, `*.co.uk` or `*.github.io`
    // would make the relay an open relay for anyone with a token, to hosts anyone can create. The
    // labels after the last `*` must be two or more, the last not numeric, and hold a registrable
    // domain by the Public Suffix List (private suffixes included). Exact hosts (including IPv4
    // addresses) need no tail. The construct applies the same rule (src/ingest-allow-list.ts).
    const lastWildcard = labels.lastIndexOf('*');
    if (lastWildcard >= 0) {
      const tail = labels.slice(lastWildcard + 1);
      if (tail.length < 2 || /^\d+$/.test(tail.at(-1)!) || getDomain(tail.join('.'), { allowPrivateDomains: true }) === null) {
        throw new Error(`"${entry}" is too broad: a wildcard pattern must end in a registrable domain, not a public suffix (e.g. *.global-contribute.live-video.net)`);
      }
    }
    const port = m[3] === undefined ? DEFAULT_PORTS[scheme] : Number(m[3]);
    if (port < 1 || port > 65535) throw new Error(`"${entry}" has an invalid port`);
    const body = labels.map((l) => (l === '*' ? `${LABEL}(?:\\.${LABEL})*` : l.replace(/-/g, '\\-'))).join('\\.');
    return { scheme, host: new RegExp(`^${body}$`), port, source: entry };
  });
}

/** The outcome of checking a start message's destination. */
export type DestinationCheck =
  | { ok: true; publishUrl: string; scheme: 'rtmp' | 'rtmps'; host: string; port: number }
  | { ok: false; code: 'DESTINATION_FORBIDDEN' | 'BAD_REQUEST'; reason: string };

// Deliberately narrower than RFC 3986: no user-info, query, fragment, percent-escapes or
// IPv6 literals, so the URL FFmpeg parses cannot differ from the one checked here. The scheme is
// case-insensitive (RFC 3986 §3.1); the publish URL always carries it in lower case.
const INGEST_RE = /^(rtmps?):\/\/([A-Za-z0-9.-]+)(?::(\d{1,5}))?(\/[A-Za-z0-9._~/-]*)?$/i;
// Stream keys seen in the wild (IVS, Twitch, YouTube, Facebook) use these characters; whitespace
// and control characters could smuggle options into FFmpeg's URL parsing, and `/` would move the
// split between RTMP app and stream name (FFmpeg takes the app from the path's leading segments).
// `?` starts a query: FFmpeg reads `?slist=<name>` as the stream name (what precedes it joins the
// app), and ingests such as nginx-rtmp drop everything from `?` from the name. Without a `?`, the
// other sub-delimiters (`&`, `=`, `;`…) are plain characters to FFmpeg and to the ingest.
const STREAM_KEY_RE = /^[A-Za-z0-9._~!$&'()*+,;=:@%-]{1,1024}$/;
// FFmpeg's RTMP client rewrites a stream name ending in `.flv` (drops it) or `.mp4`/`.f4v`
// (prefixes `mp4:`), so the ingest would not see the key as given.
const REWRITTEN_KEY_RE = /\.(flv|mp4|f4v)$/i;
// FFmpeg takes the RTMP app from at most the first two path segments and puts any further ones
// in front of the stream name, so a longer ingest path would change the name the ingest sees.
const MAX_PATH_SEGMENTS = 2;

/**
 * Checks a stream key on its own (docs/configuration.md#ingest-urls-and-stream-keys: the RTMP stream name the ingest sees is exactly the
 * key). Returns a reason safe to show (it never quotes the key), or `undefined` when the key is fine.
 */
export function checkStreamKey(streamKey: string): string | undefined {
  if (!STREAM_KEY_RE.test(streamKey)) {
    return 'streamKey must be 1 to 1024 of A-Z a-z 0-9 . _ ~ ! $ & \' ( ) * + , ; = : @ % - (no "/", "?", whitespace or control characters)';
  }
  if (REWRITTEN_KEY_RE.test(streamKey)) return 'streamKey must not end in .flv, .mp4 or .f4v';
  return undefined;
}

/**
 * Checks `ingest` against the allow-list, then the stream key, and builds the publish URL
 * (`ingest` + `/` + `streamKey`). A bad ingest is DESTINATION_FORBIDDEN; a bad key is a bad start
 * message (BAD_REQUEST). Reasons are safe to show: they never contain the stream key.
 */
export function checkDestination(ingest: string, streamKey: string, allow: readonly IngestPattern[]): DestinationCheck {
  const m = INGEST_RE.exec(ingest);
  if (!m) return { ok: false, code: 'DESTINATION_FORBIDDEN', reason: 'ingest must be rtmp:// or rtmps:// host[:port]/path' };
  const scheme = m[1]!.toLowerCase() as 'rtmp' | 'rtmps';
  const host = m[2]!.toLowerCase();
  const port = m[3] === undefined ? DEFAULT_PORTS[scheme] : Number(m[3]);
  const allowed = allow.some((p) => p.scheme === scheme && p.port === port && p.host.test(host));
  if (!allowed) return { ok: false, code: 'DESTINATION_FORBIDDEN', reason: `ingest ${scheme}://${host}:${port} is not on the allow-list` };
  const path = m[4] ?? '/';
  const segments = path.split('/').filter((s) => s.length > 0);
  if (segments.length > MAX_PATH_SEGMENTS || path.includes('//')) {
    return { ok: false, code: 'DESTINATION_FORBIDDEN', reason: `ingest path may have at most ${MAX_PATH_SEGMENTS} segments (e.g. /app/)` };
  }
  const keyProblem = checkStreamKey(streamKey);
  if (keyProblem) return { ok: false, code: 'BAD_REQUEST', reason: keyProblem };
  const publishUrl = `${scheme}://${host}:${port}${path.endsWith('/') ? path : `${path}/`}${streamKey}`;
  return { ok: true, publishUrl, scheme, host, port };
}
