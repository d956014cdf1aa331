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
    const port = m[3] === undefined ? DEFAULT_PORTS[scheme] : Number(m[3]);
    if (port < 1 || port > 65535) throw new Error(`"${entry}" has an invalid port`);
    const body = labels.map((l) => (l === '*' ? `${LABEL}(?:\\.${LABEL})*` : l.replace(/-/g, '\\-'))).join('\\.');
    return { scheme, host: new RegExp(`^${body}$`), port, source: entry };
  });
}

/** The outcome of checking a start message's destination. */
export type DestinationCheck =
  | { ok: true; publishUrl: string; scheme: 'rtmp' | 'rtmps'; host: string; port: number }
  | { ok: false; reason: string };

// Deliberately narrower than RFC 3986: no user-info, query, fragment, percent-escapes or
// IPv6 literals, so the URL FFmpeg parses cannot differ from the one checked here.
const INGEST_RE = /^(rtmps?):\/\/([A-Za-z0-9.-]+)(?::(\d{1,5}))?(\/[A-Za-z0-9._~/-]*)?$/;
// Stream keys seen in the wild (IVS, Twitch, YouTube, Facebook) use these characters; whitespace
// and control characters could smuggle options into FFmpeg's URL parsing.
const STREAM_KEY_RE = /^[A-Za-z0-9._~!$&'()*+,;=:@?%/-]{1,1024}$/;

/**
 * Checks `ingest` against the allow-list and builds the publish URL (`ingest` + `/` + `streamKey`).
 * Reasons are safe to show: they never contain the stream key.
 */
export function checkDestination(ingest: string, streamKey: string, allow: readonly IngestPattern[]): DestinationCheck {
  const m = INGEST_RE.exec(ingest);
  if (!m) return { ok: false, reason: 'ingest must be rtmp:// or rtmps:// host[:port]/path' };
  const scheme = m[1]!.toLowerCase() as 'rtmp' | 'rtmps';
  const host = m[2]!.toLowerCase();
  const port = m[3] === undefined ? DEFAULT_PORTS[scheme] : Number(m[3]);
  if (!STREAM_KEY_RE.test(streamKey)) return { ok: false, reason: 'streamKey has characters that are not allowed' };
  const allowed = allow.some((p) => p.scheme === scheme && p.port === port && p.host.test(host));
  if (!allowed) return { ok: false, reason: `ingest ${scheme}://${host}:${port} is not on the allow-list` };
  const path = m[4] ?? '/';
  const publishUrl = `${scheme}://${host}:${port}${path.endsWith('/') ? path : `${path}/`}${streamKey}`;
  return { ok: true, publishUrl, scheme, host, port };
}
