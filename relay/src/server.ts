import { fileURLToPath } from 'node:url';
import type { Server } from 'bun';
import { createTokenVerifier } from './auth.ts';
import { BufferBudget } from './buffer-budget.ts';
import { createCapacity } from './capacity.ts';
import type { RelayConfig } from './config.ts';
import type { DelayTrace } from './delay-trace.ts';
import { originAllowed } from './origin.ts';
import { createPendingConnections } from './pending.ts';
import { createScaleInProtection } from './protection.ts';
import { HEALTH_PATH, STREAM_PATH } from './protocol.ts';
import type { SessionHost, SocketData } from './session-host.ts';
import { Session } from './session.ts';
import { serveStatic } from './static.ts';
import { log, metric } from './telemetry.ts';
import { TLS12_CIPHERS, type TlsMaterial } from './tls.ts';

const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));
const GAUGE_INTERVAL_MS = 10_000;
/** The compatibility route's prefix (docs/protocol.md#compatibility-route). */
const COMPAT_PREFIX = '/rtmps/';

/** A running relay. */
export interface RelayServer {
  readonly server: Server<SocketData>;
  /** Capacity slots held now (the `sessions` of /healthz). */
  readonly slotsHeld: number;
  /**
   * Stops accepting, lets live sessions run until they end or the drain timeout, stops the rest
   * cleanly, then closes the listener. Resolves when nothing is left.
   */
  drain(): Promise<void>;
}

/**
 * Starts Bun.serve with the relay's routes (docs/protocol.md#http-routes): `GET /healthz`, the
 * WebSocket at `/v1/stream`, the optional compatibility route `/rtmps/<url-encoded ingest+key>?token=…`,
 * and the page. `delayTrace` is given only with `RELAY_DELAY_TRACE_FILE`.
 */
export function startServer(config: RelayConfig, tls?: TlsMaterial, delayTrace?: DelayTrace): RelayServer {
  const open = new Set<Session>();
  let draining = false;
  let onIdle: (() => void) | undefined;

  const protection = createScaleInProtection({ enabled: config.scaleInProtection, agentUri: config.ecsAgentUri });
  const emitGauge = () => metric('ActiveSessions', capacity.held, 'Count');
  // Sessions holding a slot: from passing every check until their FFmpeg is reaped.
  const capacity = createCapacity(config, (held) => {
    emitGauge();
    protection.update(held);
    if (held === 0) onIdle?.();
  });
  const gauge = setInterval(emitGauge, GAUGE_INTERVAL_MS);
  gauge.unref();
  // Connections that have not started a session yet: they hold no slot, so they are bounded apart.
  const pending = createPendingConnections(config);

  const host: SessionHost = {
    config,
    verifyToken: createTokenVerifier(config),
    isDraining: () => draining,
    admitPending: (address) => pending.admit(address),
    buffers: new BufferBudget(config.maxTotalBufferedBytes),
    reserve: (kind, holder) => capacity.reserve(kind, holder),
    delayTrace,
  };

  // The HTTP routes (docs/protocol.md#http-routes), as Bun.serve `routes`; `fetch` is only the
  // fallback, the page's files. A handler answers undefined once a WebSocket upgrade took the request.
  type Handler = (req: Request, srv: Server<SocketData>) => Response | undefined | Promise<Response | undefined>;
  // Browsers that reached the relay over TLS keep using TLS for its name (ignored for IP addresses).
  const secure = (handler: Handler): Handler => async (req, srv) => {
    const res = await handler(req, srv);
    if (res && tls) res.headers.set('strict-transport-security', 'max-age=31536000');
    return res;
  };
  const health: Handler = () => Response.json(
    draining ? { status: 'draining' } : { status: 'ok', sessions: capacity.held },
    { status: draining ? 503 : 200, headers: { 'cache-control': 'no-store' } },
  );
  const stream: Handler = (req, srv) => {
    if (!originAllowed(req, config.allowedOrigins)) return new Response('origin not allowed', { status: 403 });
    if (srv.upgrade(req, { data: {} })) return undefined;
    return new Response('WebSocket upgrade required', { status: 426 });
  };
  // Registered only with RELAY_COMPAT_ROUTE=on: otherwise /rtmps/… is an unknown file (404) like any other.
  const compat: Handler = (req, srv) => {
    // Refused before the URL is read: a foreign page learns nothing of what a bad URL would get.
    if (!originAllowed(req, config.allowedOrigins)) return new Response('origin not allowed', { status: 403 });
    const implicitStart = compatStart(new URL(req.url));
    if (!implicitStart) return new Response('bad compatibility URL', { status: 400 });
    if (srv.upgrade(req, { data: { implicitStart } })) return undefined;
    return new Response('WebSocket upgrade required', { status: 426 });
  };
  const files: Handler = async (req) => {
    if (config.servePage && req.method === 'GET') {
      const res = await serveStatic(PUBLIC_DIR, new URL(req.url).pathname);
      if (res) return res;
    }
    return new Response('not found', { status: 404 });
  };

  const server = Bun.serve<SocketData>({
    hostname: config.host,
    port: config.port,
    tls: tls ? { cert: tls.cert, key: tls.key, ciphers: TLS12_CIPHERS } : undefined,
    routes: {
      [HEALTH_PATH]: secure(health),
      [STREAM_PATH]: secure(stream),
      ...(config.compatRoute ? { [`${COMPAT_PREFIX}*`]: secure(compat) } : {}),
    },
    fetch: secure(files),
    error(e) {
      log('error', 'request failed', { error: String(e) });
      return new Response('internal error', { status: 500 });
    },
    websocket: {
      // Frames a little over the limit are read and refused with an `error` frame first; only
      // frames over twice the limit are cut off by Bun itself (still with 1009).
      maxPayloadLength: Math.min(config.maxMessageBytes * 2, 0xffffffff),
      idleTimeout: 60,
      open(ws) {
        const session = new Session(ws, host);
        ws.data.session = session;
        open.add(session);
        session.open();
      },
      message(ws, data) {
        ws.data.session?.message(typeof data === 'string' ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      },
      close(ws, code) {
        const session = ws.data.session;
        if (!session) return;
        open.delete(session);
        session.closed(code);
      },
    },
  });
  log('info', 'relay listening', {
    host: config.host,
    port: server.port,
    tls: config.tls,
    auth: config.auth,
    allowedIngests: config.allowedIngests.map((p) => p.source),
    ingestCaFile: config.ingestCaFile,
    maxSessions: config.maxSessions,
    maxTranscodes: config.maxTranscodes,
    maxSessionsPerAddress: config.maxSessionsPerAddress,
    maxSessionsPerSubject: config.maxSessionsPerSubject,
    maxPendingConnections: config.maxPendingConnections,
    maxPendingPerAddress: config.maxPendingPerAddress,
    maxTotalBufferedBytes: config.maxTotalBufferedBytes,
    servePage: config.servePage,
    compatRoute: config.compatRoute,
    delayTraceFile: config.delayTraceFile,
  });

  return {
    server,
    get slotsHeld() {
      return capacity.held;
    },
    async drain() {
      if (draining) return;
      draining = true;
      log('info', 'draining', { sessions: capacity.held, drainTimeoutMs: config.drainTimeoutMs });
      const idle = () => new Promise<void>((resolve) => {
        if (capacity.held === 0) resolve();
        else onIdle = resolve;
      });
      const timedOut = await Promise.race([
        idle().then(() => false),
        Bun.sleep(config.drainTimeoutMs).then(() => true),
      ]);
      if (timedOut) {
        log('info', 'drain timeout reached; stopping sessions', { sessions: capacity.held });
        // Only sessions with an open socket can still be stopped: one whose socket closed is already
        // finishing its FFmpeg. Each stop, and each such finish, is bounded by the stall timeout,
        // after which FFmpeg is killed and reaped.
        for (const s of open) s.stop('drain');
        await idle();
      }
      // Connections that never started a session get their 4013 frame rather than a bare cut.
      for (const s of open) s.stop('drain');
      clearInterval(gauge);
      emitGauge();
      await protection.stop();
      await server.stop(true);
      log('info', 'drained');
    },
  };
}

// The original sample's front end put the whole publish URL in the path; its last segment is
// the stream key. Its recorder reported no mimeType, so one may be given as a query parameter.
function compatStart(url: URL): SocketData['implicitStart'] | undefined {
  let full: string;
  try {
    full = decodeURIComponent(url.pathname.slice(COMPAT_PREFIX.length));
  } catch {
    return undefined;
  }
  const cut = full.lastIndexOf('/');
  if (cut < 0 || cut === full.length - 1) return undefined;
  return {
    type: 'start',
    token: url.searchParams.get('token') ?? undefined,
    ingest: full.slice(0, cut + 1),
    streamKey: full.slice(cut + 1),
    mimeType: url.searchParams.get('mimeType') ?? 'video/webm',
    // The original sample's client cannot start a new recording when asked.
    reconnect: false,
  };
}
