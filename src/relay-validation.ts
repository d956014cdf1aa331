import { Duration, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';

// Checks of TranswrapRelay's props. Each returns the problems it finds as sentences that start
// with the prop's name, so the construct can report every problem of a synth at once.

export function portProblems(port: number): string[] {
  if (Token.isUnresolved(port) || (Number.isInteger(port) && port >= 1 && port <= 65535)) return [];
  return [`port must be an integer from 1 to 65535, got ${port}`];
}

export function desiredCountProblems(count: number): string[] {
  if (Token.isUnresolved(count) || (Number.isInteger(count) && count >= 0)) return [];
  return [`desiredCount must be a whole number of tasks (0 or more), got ${count}`];
}

const IPV4_CIDR = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/(3[0-2]|[12]?\d)$/;
const IPV6_CIDR = /^[0-9a-f:]+\/(12[0-8]|1[01]\d|[1-9]?\d)$/i;

/**
 * The peers of `allowedCidrs`, and the problems of the entries that cannot be one. IPv6 is
 * refused: the VPC, the tasks' addresses and the registry are IPv4-only, so an IPv6 rule would
 * admit nobody while looking as if it did.
 */
export function cidrPeers(cidrs: string[]): { peers: ec2.IPeer[]; problems: string[] } {
  const peers: ec2.IPeer[] = [];
  const problems: string[] = [];
  for (const cidr of cidrs) {
    if (IPV4_CIDR.test(cidr)) {
      peers.push(ec2.Peer.ipv4(cidr));
    } else if (IPV6_CIDR.test(cidr) && cidr.includes(':')) {
      problems.push(`allowedCidrs: '${cidr}' is an IPv6 range, but relay tasks have IPv4 addresses only; give IPv4 ranges`);
    } else {
      problems.push(`allowedCidrs: '${cidr}' is not an IPv4 CIDR range (for example '203.0.113.0/24')`);
    }
  }
  return { peers, problems };
}

/** The spot share, as whole percent. */
export function spotProblems(onDemandBase: number, spotPercent: number): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(onDemandBase) || onDemandBase < 0) {
    problems.push(`spot.onDemandBase must be a whole number of tasks (0 or more), got ${onDemandBase}`);
  }
  if (!Number.isInteger(spotPercent) || spotPercent < 1 || spotPercent > 100) {
    problems.push(`spot.spotPercent must be a whole percentage from 1 to 100, got ${spotPercent}`);
  }
  return problems;
}

/** EventBridge schedules run at most once a minute, in whole minutes; 0 turns the schedule off. */
export function reconcileIntervalProblems(interval: Duration | undefined): string[] {
  if (interval === undefined) return [];
  const seconds = interval.toSeconds();
  if (Number.isInteger(seconds / 60) && seconds >= 0) return [];
  return [`reconcileInterval must be whole minutes (EventBridge runs a schedule at most once a minute), or 0 to turn the schedule off, got ${interval.toHumanString()}`];
}

/** Regions without AWS::Lambda::Url (cfn-lint E3006), where the endpoints API cannot be deployed. */
const REGIONS_WITHOUT_FUNCTION_URLS = [
  'ap-east-2', 'ap-south-2', 'ap-southeast-4', 'ap-southeast-5', 'ap-southeast-6', 'ap-southeast-7', 'ca-west-1',
  'cn-northwest-1', 'eu-central-2', 'eu-south-2', 'il-central-1', 'me-central-1', 'mx-central-1', 'us-gov-east-1', 'us-gov-west-1',
];

/** The endpoints API is a Lambda function URL, which some regions do not have. */
export function endpointsApiRegionProblems(region: string): string[] {
  if (Token.isUnresolved(region) || !REGIONS_WITHOUT_FUNCTION_URLS.includes(region)) return [];
  return [`endpointsApi: Lambda function URLs do not exist in ${region}, so the endpoints API cannot be deployed there; `
    + 'leave endpointsApi unset and list relays with the CLI (`endpoints --table`) or from your backend (grantReadRegistry)']
  ;
}
