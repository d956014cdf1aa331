import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { makeTestMedia } from '../../harness/clips.ts';
import { probeRecording } from '../../harness/probe.ts';
import { startRelayFixture, type RelayFixture } from '../../harness/relay-fixture.ts';
import { startRelay, type RelayProcess } from '../../harness/relay-process.ts';
import type { RtmpServer } from '../../harness/rtmp-server.ts';
import { exchange } from '../../harness/ws-client.ts';

/** For the relays here that publish nowhere (TLS, page serving); those that do start from harness/relay-fixture.ts. */
const SECRET = 'tls-compat-test-secret-44556677889900aa';

/** The SHA-256 fingerprint of the certificate a TLS server presents. */
async function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }, () => {
      const fp = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fp);
    });
    socket.once('error', reject);
  });
}

/** A handshake on loopback takes milliseconds; this bounds a busy machine's. */
const OPENSSL_TIMEOUT_MS = 20_000;

/**
 * The suite openssl's own client negotiates with the relay for these `s_client` options, or
 * `undefined` when the handshake fails: a client independent of Bun's TLS stack.
 */
async function negotiated(port: number, options: string[]): Promise<string | undefined> {
  const client = Bun.spawn(['openssl', 's_client', '-connect', `127.0.0.1:${port}`, ...options], { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', timeout: OPENSSL_TIMEOUT_MS });
  void client.stdin.end();
  const [out] = await Promise.all([new Response(client.stdout).text(), client.exited]);
  if (client.signalCode) throw new Error(`openssl s_client ${options.join(' ')} did not finish within ${OPENSSL_TIMEOUT_MS} ms`);
  const suite = /Cipher is (\S+)/.exec(out)?.[1];
  return suite === undefined || suite === '(NONE)' ? undefined : suite;
}

describe('TLS', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-tls-test-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('self-signed: a fresh certificate per start, served over https and wss', async () => {
    const a = await startRelay({ RELAY_TLS: 'self-signed', RELAY_AUTH_SECRET: SECRET });
    const b = await startRelay({ RELAY_TLS: 'self-signed', RELAY_AUTH_SECRET: SECRET });
    try {
      expect(a.httpUrl).toStartWith('https://');
      expect(a.wsUrl).toStartWith('wss://');
      // Self-signed: a verifying client refuses it.
      await expect(fetch(`${a.httpUrl}/healthz`)).rejects.toThrow();
      const r = await exchange(a.wsUrl, ['{nope']);
      expect(r.closeCode).toBe(4000);
      const [fa, fb] = await Promise.all([servedFingerprint(a.port), servedFingerprint(b.port)]);
      expect(fa).toMatch(/^[0-9A-F:]+$/);
      expect(fa).not.toBe(fb);
      expect(a.output()).not.toContain('PRIVATE KEY');
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  test('only forward-secret AEAD suites: no CBC, no SHA-1 MAC, no RSA key exchange, nothing before TLS 1.2', async () => {
    // Self-signed is an ECDSA key; provided here an RSA one, so both families of suites are seen.
    const proc = Bun.spawn(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
      '-keyout', join(dir, 'rsa-key.pem'), '-out', join(dir, 'rsa-cert.pem'), '-days', '1', '-subj', '/CN=localhost'], { stderr: 'ignore', timeout: OPENSSL_TIMEOUT_MS });
    expect(await proc.exited).toBe(0);
    const ecdsa = await startRelay({ RELAY_TLS: 'self-signed', RELAY_AUTH_SECRET: SECRET });
    const rsa = await startRelay({
      RELAY_TLS: 'provided',
      RELAY_AUTH_SECRET: SECRET,
      RELAY_TLS_CERT: await readFile(join(dir, 'rsa-cert.pem'), 'utf8'),
      RELAY_TLS_KEY: await readFile(join(dir, 'rsa-key.pem'), 'utf8'),
    });
    try {
      for (const suite of ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA', 'ECDHE-ECDSA-AES128-SHA256']) {
        expect(await negotiated(ecdsa.port, ['-tls1_2', '-cipher', suite])).toBeUndefined();
      }
      for (const suite of ['ECDHE-RSA-AES128-SHA', 'ECDHE-RSA-AES256-SHA', 'AES128-GCM-SHA256', 'AES128-SHA']) {
        expect(await negotiated(rsa.port, ['-tls1_2', '-cipher', suite])).toBeUndefined();
      }
      for (const suite of ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305']) {
        expect(await negotiated(ecdsa.port, ['-tls1_2', '-cipher', suite])).toBe(suite);
      }
      expect(await negotiated(rsa.port, ['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256'])).toBe('ECDHE-RSA-AES128-GCM-SHA256');
      expect(await negotiated(ecdsa.port, ['-tls1_3'])).toStartWith('TLS_');
      expect(await negotiated(ecdsa.port, ['-tls1_1', '-cipher', 'ALL:@SECLEVEL=0'])).toBeUndefined();
    } finally {
      await Promise.all([ecdsa.stop(), rsa.stop()]);
    }
  });

  test('provided: the PEM from the environment is what is served', async () => {
    const proc = Bun.spawn(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'], { stderr: 'ignore', timeout: OPENSSL_TIMEOUT_MS });
    expect(await proc.exited).toBe(0);
    const cert = await readFile(join(dir, 'cert.pem'), 'utf8');
    const key = await readFile(join(dir, 'key.pem'), 'utf8');
    const relay = await startRelay({ RELAY_TLS: 'provided', RELAY_TLS_CERT: cert, RELAY_TLS_KEY: key, RELAY_AUTH_SECRET: SECRET });
    try {
      expect(await servedFingerprint(relay.port)).toBe(new X509Certificate(cert).fingerprint256);
      expect(relay.output()).not.toContain('PRIVATE KEY');
    } finally {
      await relay.stop();
    }
  });
});

describe('compatibility route (RELAY_COMPAT_ROUTE=on)', () => {
  let fixture: RelayFixture;
  let rtmp: RtmpServer;
  let relay: RelayProcess;
  beforeAll(async () => {
    fixture = await startRelayFixture({ env: () => ({ RELAY_COMPAT_ROUTE: 'on' }) });
    ({ rtmp, relay } = fixture);
  });
  afterAll(async () => {
    await fixture?.stop();
  });

  const compatUrl = (ingestAndKey: string, query: string) =>
    `ws://127.0.0.1:${relay.port}/rtmps/${encodeURIComponent(ingestAndKey)}?${query}`;

  test('media sent straight away, socket closed at the end: recorded', async () => {
    const key = 'sk_compat_route_9d8c';
    const { token } = fixture;
    const bytes = new Uint8Array(await Bun.file(await makeTestMedia('h264-opus-mkv', 6)).arrayBuffer());
    const ws = new WebSocket(compatUrl(`${rtmp.rtmpUrl}${key}`, `token=${token}&mimeType=${encodeURIComponent('video/x-matroska;codecs=avc1,opus')}`));
    const messages: any[] = [];
    ws.onmessage = (ev) => messages.push(JSON.parse(String(ev.data)));
    await new Promise((resolve) => (ws.onopen = resolve));
    const chunk = Math.ceil(bytes.byteLength / 24);
    for (let i = 0; i < 24; i++) {
      ws.send(bytes.subarray(i * chunk, (i + 1) * chunk));
      await Bun.sleep(250);
    }
    ws.close(1000);
    expect(messages[0]).toMatchObject({ type: 'ready', pipeline: 'copy' });
    expect(messages.some((m) => m.type === 'live')).toBe(true);
    const probe = await probeRecording(await rtmp.waitForRecording(key));
    expect(probe.videoCodec).toBe('h264');
    expect(probe.audioCodec).toBe('aac');
    expect(Math.abs(probe.durationS - 6)).toBeLessThanOrEqual(0.6);
    expect(relay.output()).not.toContain(key);
    expect(relay.output()).not.toContain(token);
  });

  test('same token and allow-list rules', async () => {
    const noToken = await exchange(compatUrl(`${rtmp.rtmpUrl}sk_x`, ''), []);
    expect(noToken.closeCode).toBe(4001);
    const { token } = fixture;
    const forbidden = await exchange(compatUrl('rtmps://evil.example.com/app/sk_x', `token=${token}`), []);
    expect(forbidden.closeCode).toBe(4003);
    expect(relay.ffmpegChildren()).toEqual([]);
  });

  test('off by default', async () => {
    const other = await fixture.startRelay();
    try {
      expect((await fetch(`${other.httpUrl}/rtmps/x%2Fy`)).status).toBe(404);
    } finally {
      await other.stop();
    }
  });
});

describe('page serving', () => {
  /** Sends a raw HTTP request line, so the path reaches the server exactly as written. */
  async function rawGet(port: number, path: string): Promise<string> {
    let response = '';
    const done = Promise.withResolvers<void>();
    const socket = await Bun.connect({
      hostname: '127.0.0.1',
      port,
      socket: {
        data(_s, data) {
          response += new TextDecoder().decode(data);
        },
        close() {
          done.resolve();
        },
        error() {
          done.resolve();
        },
      },
    });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    await done.promise;
    return response;
  }

  test('RELAY_SERVE_PAGE=off serves nothing; on, traversal never leaves relay/public', async () => {
    const off = await startRelay({ RELAY_AUTH_SECRET: SECRET, RELAY_SERVE_PAGE: 'off' });
    const on = await startRelay({ RELAY_AUTH_SECRET: SECRET });
    try {
      for (const path of ['/', '/index.html', '/broadcast-client.js']) expect((await fetch(`${off.httpUrl}${path}`)).status).toBe(404);
      for (const path of ['/../package.json', '/%2e%2e/package.json', '/..%2f..%2fpackage.json', '/../src/main.ts', '/.%2e/src/main.ts']) {
        const res = await rawGet(on.port, path);
        expect(res).not.toContain('transwrap-relay');
        expect(res).not.toContain('loadConfig');
      }
    } finally {
      await Promise.all([off.stop(), on.stop()]);
    }
  });
});
