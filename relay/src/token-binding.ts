import { createHash } from 'node:crypto';
import type { JWTPayload } from 'jose';

// Optional claims that bind a token to its destinations (docs/configuration.md#authentication), so a
// token copied from a page cannot be replayed to another ingest or stream key. Each is one string, or
// an array of them for a broadcast to several destinations.

/** The ingest(s) the token may publish to, as the start message's `ingest` says it. */
export const INGEST_CLAIM = 'ingest';
/** base64url(SHA-256(stream key)) of the key(s) it may use: binds them without putting them in the token. */
export const KEY_HASH_CLAIM = 'skh';

/** base64url of the SHA-256 of a stream key: what `skh` holds. */
export function streamKeyHash(streamKey: string): string {
  return createHash('sha256').update(streamKey, 'utf8').digest('base64url');
}

/** Scheme and host are case-insensitive and a trailing slash says nothing; the path is compared as is. */
function sameIngest(a: string, b: string): boolean {
  const normal = (s: string) => s.trim().replace(/\/+$/, '').replace(/^([a-z]+:\/\/[^/]+)/i, (origin) => origin.toLowerCase());
  return normal(a) === normal(b);
}

/** The claim's values: a string is one; anything but strings (a number, an object) allows nothing. */
function values(claim: unknown): string[] {
  const list = Array.isArray(claim) ? claim : [claim];
  return list.every((v) => typeof v === 'string') ? list as string[] : [];
}

/** Why a token's binding claims refuse this destination, or `undefined` when they allow it (or there are none). */
export function bindingProblem(claims: JWTPayload | undefined, ingest: string, streamKey: string): string | undefined {
  if (!claims) return undefined;
  const boundIngest = claims[INGEST_CLAIM];
  if (boundIngest !== undefined && !values(boundIngest).some((bound) => sameIngest(bound, ingest))) {
    return 'token is bound to another ingest';
  }
  const boundKey = claims[KEY_HASH_CLAIM];
  if (boundKey !== undefined && !values(boundKey).includes(streamKeyHash(streamKey))) {
    return 'token is bound to another stream key';
  }
  return undefined;
}
