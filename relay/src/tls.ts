import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RelayConfig } from './config.ts';

/**
 * The TLS 1.2 suites the relay offers (docs/configuration.md#tls): forward-secret ECDHE with AEAD
 * ciphers only, the "intermediate" set every browser of the last decade speaks. Left to its defaults,
 * Bun also offers CBC suites with SHA-1 MACs and RSA key exchange. TLS 1.3 suites are all AEAD and
 * not affected by this list.
 */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** PEM key material for Bun.serve's `tls` option. */
export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
}

/**
 * Returns the TLS material the configuration asks for: none (`off`), the PEM from the environment
 * (`provided`), or a key and certificate generated now (`self-signed`), so no key ever ships in
 * the image and each task has its own.
 */
export async function loadTls(config: RelayConfig, opensslPath = 'openssl'): Promise<TlsMaterial | undefined> {
  if (config.tls === 'off') return undefined;
  if (config.tls === 'provided') return { cert: config.tlsCert!, key: config.tlsKey! };
  return generateSelfSigned(opensslPath, config.host);
}

/**
 * Generates a P-256 key and a one-year self-signed certificate with the `openssl` CLI.
 * The files live in a private temp folder for the blink of an eye and are removed.
 */
export async function generateSelfSigned(opensslPath: string, host: string): Promise<TlsMaterial> {
  const dir = await mkdtemp(join(tmpdir(), 'relay-tls-'));
  try {
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    const san = ['DNS:localhost', 'IP:127.0.0.1'];
    if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host) && host !== '0.0.0.0' && host !== '127.0.0.1') san.push(`IP:${host}`);
    const proc = Bun.spawn([
      opensslPath, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
      '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '365',
      '-subj', '/CN=transwrap-relay', '-addext', `subjectAltName=${san.join(',')}`,
    ], { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe' });
    const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    if (code !== 0) throw new Error(`openssl failed (${code}): ${err.trim().split('\n').pop()}`);
    return { cert: await readFile(certPath, 'utf8'), key: await readFile(keyPath, 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
