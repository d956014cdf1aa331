import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { freePort, waitFor } from './ports.ts';

/** A real RTMP ingest for tests: Debian nginx with the RTMP module, recording every stream. */
export interface RtmpServer {
  /** `rtmp://<host>:<port>/live/` (127.0.0.1 unless `host` says otherwise). */
  rtmpUrl: string;
  /** The plain RTMP listener's port. */
  port: number;
  /** `rtmps://localhost:<tlsPort>/live/` when started with `tls` (self-signed cert for localhost). */
  rtmpsUrl?: string;
  /** The TLS listener's port, when started with `tls`. */
  tlsPort?: number;
  /** With `tls`: the listener's self-signed certificate (PEM), which is its own CA; what `RELAY_INGEST_CA_FILE` is set to. */
  caFile?: string;
  recordDir: string;
  /** The .flv nginx records for a stream key. */
  recordingPath(streamKey: string): string;
  /** Resolves with the recording's path once it exists and has stopped growing. */
  waitForRecording(streamKey: string, timeoutMs?: number): Promise<string>;
  /** Kills nginx (dropping every connection) and starts it again on the same ports. */
  restart(): Promise<void>;
  /** Freezes (SIGSTOP) or thaws (SIGCONT) nginx, to make the ingest stall. */
  freeze(frozen: boolean): void;
  stop(): Promise<void>;
}

const MODULES = '/usr/lib/nginx/modules';

/** Options of {@link startRtmpServer}. */
export interface RtmpServerOptions {
  /** Adds an nginx stream TLS listener (rtmps) in front, with a fresh self-signed certificate. */
  tls?: boolean;
  /** The certificate's subjectAltName; default `DNS:localhost,IP:127.0.0.1`. */
  certNames?: string;
  /**
   * The address nginx listens on: another loopback address, e.g. a shaped link's `hostAddress`
   * (harness/shaped-link.ts), so that a relay inside the link's namespace can reach it.
   * @default '127.0.0.1'
   */
  host?: string;
}

/** Starts nginx-rtmp on a free loopback port, recording to a temp dir; with `tls`, an nginx stream TLS listener in front. */
export async function startRtmpServer(opts: RtmpServerOptions = {}): Promise<RtmpServer> {
  const host = opts.host ?? '127.0.0.1';
  const prefix = await mkdtemp(join(tmpdir(), 'relay-rtmp-'));
  const recordDir = join(prefix, 'rec');
  await Promise.all(['rec', 'logs', 'tmp'].map((d) => mkdir(join(prefix, d))));
  const port = await freePort();
  const tlsPort = opts.tls ? await freePort() : undefined;
  if (opts.tls) await makeCert(prefix, opts.certNames ?? 'DNS:localhost,IP:127.0.0.1');

  const conf = [
    `load_module ${MODULES}/ngx_rtmp_module.so;`,
    opts.tls ? `load_module ${MODULES}/ngx_stream_module.so;` : '',
    `pid ${prefix}/nginx.pid;`,
    `error_log ${prefix}/logs/error.log info;`,
    'worker_processes 1;',
    // One process that Bun.spawn owns: killing it leaves nothing behind.
    'master_process off;',
    'events { worker_connections 256; }',
    'rtmp {',
    `  server { listen ${host}:${port}; chunk_size 4096;`,
    '    application live {',
    '      live on;',
    `      record all; record_path ${recordDir}; record_unique off;`,
    '    }',
    '  }',
    '}',
    opts.tls
      ? [
        'stream {',
        `  server { listen ${host}:${tlsPort} ssl;`,
        `    ssl_certificate ${prefix}/cert.pem; ssl_certificate_key ${prefix}/key.pem;`,
        `    proxy_pass ${host}:${port};`,
        '  }',
        '}',
      ].join('\n')
      : '',
  ].join('\n');
  const confPath = join(prefix, 'nginx.conf');
  await writeFile(confPath, conf);

  let proc: Subprocess | undefined;
  const launch = async () => {
    proc = Bun.spawn(['nginx', '-p', prefix, '-c', confPath, '-g', 'daemon off;'], {
      stdin: 'ignore', stdout: 'ignore', stderr: 'ignore',
    });
    const p = proc;
    await waitFor(async () => {
      if (p.exitCode !== null) {
        const log = await readFile(join(prefix, 'logs/error.log'), 'utf8').catch(() => '');
        throw new Error(`nginx exited (${p.exitCode}): ${log.slice(-2000)}`);
      }
      return (await canConnect(host, port)) && (tlsPort === undefined || (await canConnect(host, tlsPort)));
    }, 10_000, 'nginx to listen');
  };
  const kill = async () => {
    const p = proc;
    if (!p) return;
    p.kill('SIGCONT');
    p.kill('SIGKILL');
    await p.exited;
  };
  await launch();

  const recordingPath = (key: string) => join(recordDir, `${key}.flv`);
  return {
    rtmpUrl: `rtmp://${host}:${port}/live/`,
    port,
    rtmpsUrl: tlsPort ? `rtmps://localhost:${tlsPort}/live/` : undefined,
    tlsPort,
    caFile: opts.tls ? join(prefix, 'cert.pem') : undefined,
    recordDir,
    recordingPath,
    async waitForRecording(key, timeoutMs = 20_000) {
      const path = recordingPath(key);
      let lastSize = -1;
      let stableSince = 0;
      await waitFor(() => {
        if (!existsSync(path)) return false;
        const size = statSync(path).size;
        if (size !== lastSize || size === 0) {
          lastSize = size;
          stableSince = Date.now();
          return false;
        }
        return Date.now() - stableSince > 1500;
      }, timeoutMs, `recording of ${key}`, 100);
      return path;
    },
    async restart() {
      await kill();
      await launch();
    },
    freeze(frozen) {
      proc?.kill(frozen ? 'SIGSTOP' : 'SIGCONT');
    },
    async stop() {
      await kill();
      await rm(prefix, { recursive: true, force: true });
    },
  };
}

async function canConnect(hostname: string, port: number): Promise<boolean> {
  try {
    const socket = await Bun.connect({ hostname, port, socket: { data() {} } });
    socket.end();
    return true;
  } catch {
    return false;
  }
}

async function makeCert(dir: string, names: string): Promise<void> {
  const proc = Bun.spawn([
    'openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
    '-subj', '/CN=localhost', '-addext', `subjectAltName=${names}`,
  ], { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe' });
  if ((await proc.exited) !== 0) throw new Error(`openssl failed: ${await new Response(proc.stderr).text()}`);
}
