import ipaddr from 'ipaddr.js';

/** Resolves a host name to its addresses; Bun's resolver (the system's) unless a test gives another. */
export type Lookup = (host: string) => Promise<string[]>;

const systemLookup: Lookup = async (host) => (await Bun.dns.lookup(host)).map((a) => a.address);

/**
 * Why the relay must not publish to `host`, or `undefined` (docs/configuration.md#allowed-ingests).
 * An allowed DNS name must resolve only to public unicast addresses: a wildcard entry lets a token
 * holder pick any name under a domain, and a name whose owner points it at 127.0.0.1, 10.0.0.5 or
 * 169.254.169.254 (the instance metadata service) would turn the relay into a way into its own
 * network. Only an allow-list that names the address itself, or `localhost`, opts into one (the
 * local demo and tests do): a host that is either and passed the allow-list was named by an exact
 * entry, since a wildcard's tail must be a registrable domain. A name that does not resolve is left to FFmpeg, which fails with 4502.
 *
 * FFmpeg resolves the name again when it connects: a DNS answer that changes in between could
 * still differ. The construct's security group, which allows egress only to the ingest ports, is
 * the other half of this defence.
 */
export async function nonPublicAddressProblem(host: string, lookup: Lookup = systemLookup): Promise<string | undefined> {
  if (host === 'localhost' || ipaddr.isValid(host)) return undefined;
  let addresses: string[];
  try {
    addresses = await lookup(host);
  } catch {
    return undefined;
  }
  const blocked = addresses.find((a) => !isPublic(a));
  return blocked === undefined ? undefined : `ingest ${host} resolves to a non-public address`;
}

/** True for a public unicast address; IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry. */
export function isPublic(address: string): boolean {
  try {
    return ipaddr.process(address).range() === 'unicast';
  } catch {
    return false;
  }
}
