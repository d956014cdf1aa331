import type { JWTPayload } from 'jose';
import { tokenSubject, type TokenVerifier } from './auth.ts';
import type { SlotHolder } from './capacity.ts';
import type { RelayConfig } from './config.ts';
import { checkDestination } from './destination.ts';
import { nonPublicAddressProblem } from './ingest-address.ts';
import type { FanoutDestination as Destination } from './outputs/fanout.ts';
import { planPipeline, type PipelinePlan } from './pipeline.ts';
import { SessionError, type StartMessage } from './protocol.ts';
import { bindingProblem } from './token-binding.ts';

/** A start message that passed every check: what to publish, where, and for whom. */
export interface StartPlan {
  readonly plan: PipelinePlan;
  readonly destinations: readonly Destination[];
  /** The client's address and its token's subject: what the session limits count. */
  readonly holder: SlotHolder;
  /** The token, stream keys and publish URLs, to keep out of every log line. */
  readonly secrets: readonly string[];
}

/**
 * Checks 2 to 9 of a start message, in docs/protocol.md's order ("Checks, in order"): the token,
 * the number of destinations, each destination (allow-list and shape, key, address, token binding,
 * uniqueness), then the media type. Capacity (10) and FFmpeg (11) are the output's.
 * @throws SessionError with the first check that refuses it
 */
export async function checkStart(msg: StartMessage, remote: string, cfg: RelayConfig, verifyToken: TokenVerifier): Promise<StartPlan> {
  const claims = await verifyToken(msg.token);
  const destinations = await checkDestinations(msg, claims, cfg);
  // With RELAY_AUTH=none there is no token to keep secret, nor a subject.
  const token = claims !== undefined && msg.token ? [msg.token] : [];
  const secrets = [...token, ...destinations.flatMap((d) => [d.streamKey, d.publishUrl])];
  const plan = planPipeline(msg.mimeType);
  const subject = claims === undefined ? undefined : tokenSubject(claims, msg.token!);
  return { plan, destinations, holder: { address: remote, subject }, secrets };
}

/**
 * Checks every destination of the start message, the first one (`ingest`, `streamKey`) and those
 * in `destinations`, as one would be checked alone (docs/protocol.md#several-destinations).
 */
async function checkDestinations(msg: StartMessage, claims: JWTPayload | undefined, cfg: RelayConfig): Promise<Destination[]> {
  const requested = [{ ingest: msg.ingest, streamKey: msg.streamKey }, ...(msg.destinations ?? [])];
  if (requested.length > cfg.maxDestinations) {
    throw new SessionError('BAD_REQUEST', `too many destinations (RELAY_MAX_DESTINATIONS: ${cfg.maxDestinations})`);
  }
  const destinations: Destination[] = [];
  for (const { ingest, streamKey } of requested) {
    const dest = checkDestination(ingest, streamKey, cfg.allowedIngests);
    if (!dest.ok) throw new SessionError(dest.code, dest.reason);
    const nonPublic = await nonPublicAddressProblem(dest.host);
    if (nonPublic) throw new SessionError('DESTINATION_FORBIDDEN', nonPublic);
    const unbound = bindingProblem(claims, ingest, streamKey);
    if (unbound) throw new SessionError('UNAUTHORIZED', unbound);
    if (destinations.some((d) => d.publishUrl === dest.publishUrl)) throw new SessionError('BAD_REQUEST', 'the same destination twice');
    destinations.push({ ingest: `${dest.scheme}://${dest.host}:${dest.port}`, publishUrl: dest.publishUrl, streamKey });
  }
  return destinations;
}
