import { describe, expect, test } from 'bun:test';
import { makeToken } from '../../../harness/token.ts';
import { createTokenVerifier, lifetimeProblem } from '../../src/auth.ts';
import { loadConfig } from '../../src/config.ts';
import { SessionError } from '../../src/protocol.ts';

// How long a token may live (docs/configuration.md#authentication): `exp` at most
// RELAY_MAX_TOKEN_LIFETIME_MS beyond now, and beyond `iat` when the token has one.

const SECRET = 'auth-unit-test-secret-0123456789abcdef';
const HOUR = 3600;
const now = () => Math.floor(Date.now() / 1000);

/** The verifier's answer: 'ok', or the UNAUTHORIZED message. */
async function verdict(token: string, env: Record<string, string> = {}): Promise<string> {
  const verify = createTokenVerifier(loadConfig({ RELAY_AUTH_SECRET: SECRET, ...env }));
  try {
    await verify(token);
    return 'ok';
  } catch (e) {
    expect(e).toBeInstanceOf(SessionError);
    expect((e as SessionError).code).toBe('UNAUTHORIZED');
    return (e as SessionError).message;
  }
}

describe('token lifetime', () => {
  test('the default maximum is 24 h, the CLI\'s longest --ttl', () => {
    expect(loadConfig({ RELAY_AUTH_SECRET: SECRET }).maxTokenLifetimeMs).toBe(86_400_000);
  });

  test('a token of exactly 24 h is accepted; one that expires further ahead is refused with a fixed message', async () => {
    const t = now();
    expect(await verdict(await makeToken(SECRET, { iat: t, exp: t + 24 * HOUR }))).toBe('ok');
    const tooLong = await makeToken(SECRET, { exp: t + 24 * HOUR + 60 });
    expect(await verdict(tooLong)).toBe('token lifetime exceeds the relay\'s maximum of 86400000 ms');
    expect(await verdict(await makeToken(SECRET, { expiresIn: '365d' }))).toContain('lifetime');
  });

  test('with iat, exp - iat counts too: a token issued long ago for a long time is refused although it expires soon', async () => {
    const t = now();
    expect(await verdict(await makeToken(SECRET, { iat: t - 2 * HOUR, exp: t + 23 * HOUR }))).toContain('lifetime');
    expect(await verdict(await makeToken(SECRET, { iat: t - 2 * HOUR, exp: t + 22 * HOUR }))).toBe('ok');
  });

  test('RELAY_MAX_TOKEN_LIFETIME_MS sets the maximum', async () => {
    const env = { RELAY_MAX_TOKEN_LIFETIME_MS: '600000' };
    expect(await verdict(await makeToken(SECRET, { expiresIn: '9m' }), env)).toBe('ok');
    expect(await verdict(await makeToken(SECRET, { expiresIn: '11m' }), env)).toBe('token lifetime exceeds the relay\'s maximum of 600000 ms');
  });

  test('an expired token is still "token expired", not a lifetime problem', async () => {
    expect(await verdict(await makeToken(SECRET, { iat: now() - 48 * HOUR, exp: now() - 60 }))).toBe('token expired');
  });

  test('lifetimeProblem: exp beyond now + max, or beyond iat + max', () => {
    const max = 1000 * HOUR;
    const nowMs = 1_700_000_000_000;
    const nowS = nowMs / 1000;
    expect(lifetimeProblem({ exp: nowS + HOUR }, max, nowMs)).toBeUndefined();
    expect(lifetimeProblem({ exp: nowS + HOUR + 1 }, max, nowMs)).toBeString();
    expect(lifetimeProblem({ exp: nowS + HOUR, iat: nowS - 1 }, max, nowMs)).toBeString();
    expect(lifetimeProblem({ exp: nowS + HOUR, iat: nowS }, max, nowMs)).toBeUndefined();
  });
});
