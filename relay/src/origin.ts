// Which web pages may open a relay session (RELAY_ALLOWED_ORIGINS, docs/configuration.md#variables).

/**
 * Parses `RELAY_ALLOWED_ORIGINS`: comma-separated `scheme://host[:port]` origins, normalised by
 * the URL parser (so `HTTPS://Studio.Example.com:443` is `https://studio.example.com`).
 * @throws Error naming the first entry that is not an origin
 */
export function parseAllowedOrigins(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((entry) => {
    let url: URL | undefined;
    try {
      url = new URL(entry);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '') {
      throw new Error(`"${entry}" is not an origin (http(s)://host[:port], no path)`);
    }
    return url.origin;
  });
}

/**
 * Whether a WebSocket upgrade may proceed. Browsers always send `Origin`, so a page of another
 * site is refused unless listed; the relay's own page (same origin as the request) always may.
 * A request without `Origin` is not from a browser page: a token still decides, as everywhere.
 * An empty list allows every origin (the default: tokens, not origins, keep the relay closed).
 */
export function originAllowed(req: Request, allowed: readonly string[]): boolean {
  if (allowed.length === 0) return true;
  const origin = req.headers.get('origin');
  if (origin === null) return true;
  const own = req.headers.get('host');
  if (own !== null && (origin === `https://${own}` || origin === `http://${own}`)) return true;
  return allowed.includes(origin.toLowerCase());
}
