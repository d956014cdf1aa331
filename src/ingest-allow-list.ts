import { Token } from 'aws-cdk-lib';
import { getDomain } from 'tldts';

/** The Amazon IVS ingest endpoints, over RTMPS on the default port 443. Frozen: it is every relay's default. */
export const DEFAULT_ALLOWED_INGESTS: readonly string[] = Object.freeze(['rtmps://*.global-contribute.live-video.net']);

const DEFAULT_PORTS: Record<string, number> = { rtmp: 1935, rtmps: 443 };

// `*` stands for one or more DNS labels, so it may only be a whole label.
const PATTERN = /^(rtmps?):\/\/((?:\*|[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.(?:\*|[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?))*)(?::(\d{1,5}))?\/?$/i;

/** One parsed allow-list entry (docs/configuration.md#allowed-ingests). */
export interface IngestPattern {
  readonly scheme: 'rtmp' | 'rtmps';
  readonly host: string;
  readonly port: number;
}

/**
 * Parses `scheme://host-pattern[:port]`, throwing an error that names the bad entry.
 * The relay applies the same rules at run time; checking here turns a typo into a synth error
 * instead of a relay that refuses every stream.
 */
export function parseIngestPattern(entry: string): IngestPattern {
  const match = PATTERN.exec(entry.trim());
  if (!match) {
    throw new Error(
      `allowedIngests: '${entry}' is not a valid ingest pattern; expected rtmp:// or rtmps:// followed by a host (where '*' matches one or more DNS labels) and an optional :port, e.g. 'rtmps://*.global-contribute.live-video.net'`,
    );
  }
  const host = match[2].toLowerCase();
  if (!wildcardStaysUnderADomain(host)) {
    throw new Error(`allowedIngests: '${entry}' is too broad; a '*' must be followed by a registrable domain (not a public suffix such as co.uk or github.io), e.g. 'rtmps://*.global-contribute.live-video.net'`);
  }
  const scheme = match[1].toLowerCase() as 'rtmp' | 'rtmps';
  const port = match[3] === undefined ? DEFAULT_PORTS[scheme] : Number(match[3]);
  if (port < 1 || port > 65535) {
    throw new Error(`allowedIngests: '${entry}' has port ${port}, outside 1-65535`);
  }
  return { scheme, host, port };
}

/**
 * Whether a host pattern's wildcard stays under one registrable domain. The labels after the last
 * `*` must be at least two, the last not numeric, and hold a domain someone registered (by the
 * Public Suffix List, private suffixes included): `*`, `*.com`, `*.co.uk`, `*.github.io` or `*.0.1`
 * would let a token holder publish to hosts anyone can create. The relay applies the same rule
 * (relay/src/destination.ts); test/fixtures/allow-list-cases.json holds both to it.
 */
export function wildcardStaysUnderADomain(host: string): boolean {
  const labels = host.split('.');
  const lastWildcard = labels.lastIndexOf('*');
  if (lastWildcard < 0) return true;
  const tail = labels.slice(lastWildcard + 1);
  return tail.length >= 2 && !/^\d+$/.test(tail[tail.length - 1]) && getDomain(tail.join('.'), { allowPrivateDomains: true }) !== null;
}

/** The distinct destination ports the list allows, and a problem for each bad entry (or an empty list). */
export function ingestPorts(entries: string[]): { ports: number[]; problems: string[] } {
  if (entries.length === 0) {
    return { ports: [], problems: ['allowedIngests: the list is empty, so the relay could publish nowhere; give at least one rtmp:// or rtmps:// pattern'] };
  }
  const ports = new Set<number>();
  const problems: string[] = [];
  for (const entry of entries) {
    if (Token.isUnresolved(entry)) {
      problems.push('allowedIngests: entries must be plain strings known at synth time, not tokens');
      continue;
    }
    try {
      ports.add(parseIngestPattern(entry).port);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  return { ports: [...ports].sort((a, b) => a - b), problems };
}
