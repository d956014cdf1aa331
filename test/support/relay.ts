import { ChildProcess, spawn } from 'child_process';
import * as https from 'https';
import { AddressInfo, createServer } from 'net';
import * as path from 'path';

const root = path.join(__dirname, '..', '..');

/** A real relay (`bun relay/src/main.ts`) on loopback with its per-start self-signed certificate. */
export interface RelayProcess {
  readonly port: number;
  stop(): Promise<void>;
}

export async function startTlsRelay(): Promise<RelayProcess> {
  const port = await freePort();
  const child: ChildProcess = spawn(path.join(root, 'node_modules', '.bin', 'bun'), ['relay/src/main.ts'], {
    cwd: root,
    env: { ...process.env, RELAY_HOST: '127.0.0.1', RELAY_PORT: String(port), RELAY_TLS: 'self-signed', RELAY_AUTH: 'none' },
    stdio: 'ignore',
  });
  const exited = new Promise(resolve => child.once('exit', resolve));
  await waitForHealth(port);
  return {
    port,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A loopback port nothing listens on (free when asked). */
export function freePort(): Promise<number> {
  return new Promise(resolve => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForHealth(port: number): Promise<void> {
  for (let i = 0; i < 150; i++) {
    const ok = await new Promise<boolean>(resolve => {
      https.get({ host: '127.0.0.1', port, path: '/healthz', rejectUnauthorized: false }, res => { res.resume(); resolve(res.statusCode === 200); })
        .on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise(r => setTimeout(r, 100));
  }
  throw new Error(`relay on port ${port} did not come up`);
}
