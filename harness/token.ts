import { SignJWT } from 'jose';

/**
 * Signs a test token with HS256 (or `alg`) and the UTF-8 bytes of `secret`; issued now unless `iat`
 * (epoch seconds) says otherwise; expires in 10 min unless told (`noExp` leaves `exp` out); `sub` is
 * `test-broadcaster` unless `claims` names another.
 */
export async function makeToken(
  secret: string,
  opts: { expiresIn?: string; exp?: number; iat?: number; alg?: string; noExp?: boolean; claims?: Record<string, unknown> } = {},
): Promise<string> {
  const jwt = new SignJWT({ scope: 'stream', ...opts.claims })
    .setProtectedHeader({ alg: opts.alg ?? 'HS256' })
    .setIssuedAt(opts.iat)
    .setSubject(typeof opts.claims?.sub === 'string' ? opts.claims.sub : 'test-broadcaster');
  if (opts.noExp) {
    // no expiry: the relay must refuse it
  } else if (opts.exp !== undefined) {jwt.setExpirationTime(opts.exp);} else {jwt.setExpirationTime(opts.expiresIn ?? '10m');}
  return jwt.sign(new TextEncoder().encode(secret));
}
