import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { RelayConfig } from './config.ts';
import { SessionError } from './protocol.ts';

/** Verifies a start message's token; resolves with its claims or rejects with an UNAUTHORIZED SessionError. */
export type TokenVerifier = (token: string | undefined) => Promise<JWTPayload | undefined>;

/**
 * Builds the verifier the configuration asks for: HS256 with `RELAY_AUTH_SECRET`, a remote JWKS
 * with issuer (and audience), or none (loopback only, enforced by config). `exp` is always required.
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
      return payload;
    } catch (e) {
      throw new SessionError('UNAUTHORIZED', describe(e));
    }
  };
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
