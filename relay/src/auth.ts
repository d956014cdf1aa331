import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { RelayConfig } from './config.ts';
import { SessionError } from './protocol.ts';

/** Verifies a start message's token; resolves with its claims or rejects with an UNAUTHORIZED SessionError. */
export type TokenVerifier = (token: string | undefined) => Promise<JWTPayload | undefined>;

/**
 * Builds the verifier the configuration asks for: HS256 with `RELAY_AUTH_SECRET`, a remote JWKS
 * with issuer and audience, or none (loopback only, enforced by config). `exp` is always required,
 * and may lie at most `RELAY_MAX_TOKEN_LIFETIME_MS` ahead (see {@link lifetimeProblem}).
 */
export function createTokenVerifier(config: RelayConfig): TokenVerifier {
  if (config.auth === 'none') return async () => undefined;
  let key: Uint8Array | JWTVerifyGetKey;
  let algorithms: string[];
  if (config.authSecret) {
    key = new TextEncoder().encode(config.authSecret);
    algorithms = ['HS256'];
  } else {
    // jose caches the key set and refetches on an unknown `kid`, with its own cooldown.
    key = createRemoteJWKSet(new URL(config.authJwksUrl!));
    algorithms = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
  }
  return async (token) => {
    if (!token) throw new SessionError('UNAUTHORIZED', 'missing token');
    try {
      const { payload } = await jwtVerify(token, key as Uint8Array, {
        algorithms,
        requiredClaims: ['exp'],
        issuer: config.authIssuer,
        audience: config.authAudience,
      });
      const problem = lifetimeProblem(payload, config.maxTokenLifetimeMs, Date.now());
      if (problem) throw new SessionError('UNAUTHORIZED', problem);
      return payload;
    } catch (e) {
      throw e instanceof SessionError ? e : new SessionError('UNAUTHORIZED', describe(e));
    }
  };
}

/**
 * Why a verified token lives too long, or `undefined`. A token is a bearer credential: one minted
 * for a year (by mistake, or by a backend that wants to save itself the work) is a year-long key to
 * the relay for whoever copies it from a page. So `exp` may lie at most `maxMs` beyond now and, when
 * the token says when it was issued, at most `maxMs` beyond `iat` too.
 */
export function lifetimeProblem(payload: JWTPayload, maxMs: number, nowMs: number): string | undefined {
  // jose has checked that `exp` is present and a number, and `iat` a number when present.
  const expMs = payload.exp! * 1000;
  const tooLong = expMs - nowMs > maxMs || (payload.iat !== undefined && expMs - payload.iat * 1000 > maxMs);
  return tooLong ? `token lifetime exceeds the relay's maximum of ${maxMs} ms` : undefined;
}

/**
 * Who a verified token speaks for, for `RELAY_MAX_SESSIONS_PER_SUBJECT`: its `sub`, else its `jti`,
 * else the token itself (by hash), so a token without either is its own identity. Prefixed, so that a
 * `sub` can never collide with another token's `jti`.
 */
export function tokenSubject(claims: JWTPayload, token: string): string {
  if (typeof claims.sub === 'string') return `sub:${claims.sub}`;
  if (typeof claims.jti === 'string') return `jti:${claims.jti}`;
  return `token:${new Bun.CryptoHasher('sha256').update(token).digest('hex')}`;
}

// jose's own messages can quote claim values; keep to fixed texts.
function describe(e: unknown): string {
  if (e instanceof errors.JWTExpired) return 'token expired';
  if (e instanceof errors.JWTClaimValidationFailed) return `token claim "${e.claim}" is not acceptable`;
  if (e instanceof errors.JWSSignatureVerificationFailed) return 'token signature is invalid';
  if (e instanceof errors.JOSEAlgNotAllowed) return 'token algorithm is not allowed';
  if (e instanceof errors.JWKSNoMatchingKey) return 'token key is unknown';
  if (e instanceof errors.JWKSTimeout || e instanceof errors.JWKSInvalid) return 'token keys are unavailable';
  return 'token is invalid';
}
