import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { startRelay, type RelayProcess } from '../../harness/relay-process.ts';
import { makeToken } from '../../harness/token.ts';
import { exchange, until } from '../../harness/ws-client.ts';

// Tokens from an OIDC issuer (e.g. a Cognito user pool), verified against its remote JWKS.

const ISSUER = 'https://issuer.test/pool';
const AUDIENCE = 'relay-clients';
const INGEST = 'rtmp://127.0.0.1:1935/live/';
let jwks: ReturnType<typeof Bun.serve>;
let relay: RelayProcess;
let privateKey: CryptoKey;
let strangerKey: CryptoKey;
let jwksFetches = 0;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  privateKey = pair.privateKey;
  // A second pair whose public half is never served.
  strangerKey = (await generateKeyPair('RS256')).privateKey;
  const publicKey = pair.publicKey;
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  jwks = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch() {
      // A slow issuer: the first verification takes long enough that media sent right after the
      // start message certainly arrives before `ready`.
      jwksFetches++;
      if (jwksFetches === 1) await Bun.sleep(500);
      return Response.json({ keys: [jwk] });
    },
  });
  relay = await startRelay({
    RELAY_AUTH_JWKS_URL: `http://127.0.0.1:${jwks.port}/.well-known/jwks.json`,
    RELAY_AUTH_ISSUER: ISSUER,
    RELAY_AUTH_AUDIENCE: AUDIENCE,
    RELAY_ALLOWED_INGESTS: 'rtmp://127.0.0.1',
  });
});

afterAll(async () => {
  await relay?.stop();
  await jwks?.stop(true);
});

async function sign(opts: { key?: CryptoKey; iss?: string; aud?: string; kid?: string; exp?: boolean; expiresIn?: string } = {}): Promise<string> {
  const jwt = new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: opts.kid ?? 'k1' })
    .setIssuer(opts.iss ?? ISSUER).setAudience(opts.aud ?? AUDIENCE).setIssuedAt();
  if (opts.exp !== false) jwt.setExpirationTime(opts.expiresIn ?? '5m');
  return jwt.sign(opts.key ?? privateKey);
}

const start = (token: string) => JSON.stringify({ type: 'start', token, ingest: INGEST, streamKey: 'sk_jwks', mimeType: 'video/mp4' });

describe('remote JWKS', () => {
  test('binary before ready → 4000, and no FFmpeg is spawned', async () => {
    let sawFfmpeg = false;
    const sampler = setInterval(() => {
      if (relay.ffmpegChildren().length > 0) sawFfmpeg = true;
    }, 5);
    const r = await exchange(relay.wsUrl, [start(await sign()), new Uint8Array([0x1a, 0x45, 0xdf, 0xa3])]);
    await Bun.sleep(600); // past the slow verification
    clearInterval(sampler);
    expect(jwksFetches).toBe(1);
    expect(r.closeCode).toBe(4000);
    expect(r.messages).toEqual([{ type: 'error', code: 'BAD_REQUEST', message: expect.any(String) }]);
    expect(sawFfmpeg).toBe(false);
    expect(relay.output()).not.toContain('"msg":"session ready"');
  });

  test('a token from the issuer is accepted; stop before any media ends cleanly', async () => {
    const r = await exchange(relay.wsUrl, [start(await sign()), async (m) => (await until(m, 'ready'), JSON.stringify({ type: 'stop' }))]);
    expect(r.messages[0]).toMatchObject({ type: 'ready', pipeline: 'copy' });
    expect(r.messages.at(-1)).toEqual({ type: 'ended' });
    expect(r.closeCode).toBe(1000);
  });

  const refusals: [string, () => Promise<string>][] = [
    ['another issuer', () => sign({ iss: 'https://evil.test/' })],
    ['another audience', () => sign({ aud: 'someone-else' })],
    ['a key not in the set', () => sign({ key: strangerKey })],
    ['an unknown kid', () => sign({ kid: 'k2' })],
    ['no exp', () => sign({ exp: false })],
    // RELAY_MAX_TOKEN_LIFETIME_MS (24 h) holds for the issuer's tokens too.
    ['a lifetime over 24 h', () => sign({ expiresIn: '30d' })],
    ['an HS256 token', () => makeToken('any-secret-at-all')],
  ];
  for (const [name, token] of refusals) {
    test(`${name} → 4001`, async () => {
      const r = await exchange(relay.wsUrl, [start(await token())]);
      expect(r.closeCode).toBe(4001);
      expect(r.messages.at(-1)).toMatchObject({ type: 'error', code: 'UNAUTHORIZED' });
    });
  }

  test('the lifetime refusal says so', async () => {
    const r = await exchange(relay.wsUrl, [start(await sign({ expiresIn: '25h' }))]);
    expect(r.messages.at(-1)).toEqual({ type: 'error', code: 'UNAUTHORIZED', message: 'token lifetime exceeds the relay\'s maximum of 86400000 ms' });
  });

  test('no FFmpeg left behind', () => {
    expect(relay.ffmpegChildren()).toEqual([]);
  });
});
