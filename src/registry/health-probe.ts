import * as https from 'https';
import { LiveRelay } from './live-relays';
import { HEALTH_PATH } from '../relay-paths';

/** What a relay's `GET /healthz` said, or why it could not be asked. */
export interface ProbeResult {
  readonly status: 'ok' | 'draining' | 'unreachable';
  readonly sessions?: number;
}

/**
 * Asks a relay for its session count. Relays reached by IP present a per-task self-signed
 * certificate, so only those skip certificate checks; this reads a public health document
 * and sends nothing secret.
 */
export function probeRelay(relay: LiveRelay, timeoutMs = 3000): Promise<ProbeResult> {
  return new Promise(resolve => {
    const req = https.get({
      host: relay.hostname ?? relay.publicIp,
      port: relay.port,
      path: HEALTH_PATH,
      timeout: timeoutMs,
      rejectUnauthorized: relay.hostname !== undefined,
    }, res => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', chunk => { body += chunk; });
      res.on('end', () => {
        try {
          const doc = JSON.parse(body) as { status?: string; sessions?: number };
          resolve({
            status: res.statusCode === 200 && doc.status === 'ok' ? 'ok' : 'draining',
            sessions: typeof doc.sessions === 'number' ? doc.sessions : undefined,
          });
        } catch {
          resolve({ status: 'unreachable' });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 'unreachable' }));
  });
}
