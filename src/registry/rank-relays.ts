import { ProbeResult } from './health-probe';
import { LiveRelay } from './live-relays';

/** A live relay together with what its health check said. */
export interface ProbedRelay {
  readonly relay: LiveRelay;
  readonly probe: ProbeResult;
}

/**
 * Orders relays for a client to try: healthy ones by fewest sessions, then those the probe could
 * not reach (the registry still says they are live); draining relays are left out.
 */
export function rankRelays(probed: ProbedRelay[]): ProbedRelay[] {
  const load = (r: ProbedRelay) => (r.probe.status === 'ok' ? r.probe.sessions ?? 0 : Number.MAX_SAFE_INTEGER);
  return probed.filter(r => r.probe.status !== 'draining').sort((a, b) => load(a) - load(b));
}
