import { Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { ingestPorts } from './ingest-allow-list';
import { isManagedVariable } from './relay-container';
import { DNS_NAME } from './relay-dns';
import type { TranswrapRelayProps } from './transwrap-relay';

// Every check of TranswrapRelay's props, in one place. Each problem is `<prop>: <problem>`, so the construct
// reports every problem of a synth at once and a reader sees which prop to change.

/** The problems of `props`, as `<prop>: <problem>`; empty when they are valid. */
export function validateProps(props: TranswrapRelayProps, region: string): string[] {
  const problems: string[] = [];
  const check = (ok: boolean, problem: string) => { if (!ok) problems.push(problem); };
  const wholeNumber = (n: number) => Token.isUnresolved(n) || (Number.isInteger(n) && n >= 0);

  const port = props.port ?? 443;
  check(Token.isUnresolved(port) || (Number.isInteger(port) && port >= 1 && port <= 65535), `port: must be an integer from 1 to 65535, got ${port}`);
  if (props.scaling) {
    check(props.desiredCount === undefined, 'desiredCount: leave it unset with scaling; scaling.minTasks and scaling.maxTasks set the task count');
    const { minTasks = 1, maxTasks, targetSessionsPerTask = 20 } = props.scaling;
    check(wholeNumber(minTasks) && wholeNumber(maxTasks) && maxTasks >= Math.max(minTasks, 1),
      `scaling: need whole numbers with 0 <= minTasks <= maxTasks and maxTasks >= 1, got minTasks=${minTasks}, maxTasks=${maxTasks}`);
    check(targetSessionsPerTask > 0, `scaling.targetSessionsPerTask: must be greater than 0, got ${targetSessionsPerTask}`);
  } else if (props.desiredCount !== undefined) {
    check(wholeNumber(props.desiredCount), `desiredCount: must be a whole number of tasks (0 or more), got ${props.desiredCount}`);
  }
  problems.push(...cidrPeers(props.allowedCidrs ?? ['0.0.0.0/0']).problems);
  if (props.allowedIngests) problems.push(...ingestPorts(props.allowedIngests).problems);
  check(!(props.vpc && props.cluster && props.vpc !== props.cluster.vpc), 'vpc: the given cluster is in another VPC; give the cluster alone, or its own VPC');
  check(!(props.existingRegistryTable && props.tableRemovalPolicy !== undefined),
    'tableRemovalPolicy: applies only to the table this construct creates, not to existingRegistryTable');
  if (props.spot) {
    const { onDemandBase = 1, spotPercent = 50 } = props.spot;
    check(Number.isInteger(onDemandBase) && onDemandBase >= 0, `spot.onDemandBase: must be a whole number of tasks (0 or more), got ${onDemandBase}`);
    check(Number.isInteger(spotPercent) && spotPercent >= 1 && spotPercent <= 100,
      `spot.spotPercent: must be a whole percentage from 1 to 100, got ${spotPercent}`);
  }
  if (props.reconcileInterval) {
    check(Number.isInteger(props.reconcileInterval.toSeconds() / 60),
      'reconcileInterval: must be whole minutes (EventBridge runs a schedule at most once a minute), or 0 to turn the schedule off, '
      + `got ${props.reconcileInterval.toHumanString()}`);
  }
  if (props.endpointsApi) problems.push(...endpointsApiProblems(props.endpointsApi.allowedOrigins, region));
  if (props.dns) {
    const subdomain = props.dns.subdomain ?? 'relay';
    check(DNS_NAME.test(subdomain), `dns.subdomain: '${subdomain}' is not a DNS name (lower-case labels of letters, digits and hyphens)`);
  }
  for (const name of Object.keys(props.relayEnvironment ?? {})) {
    check(!isManagedVariable(name, props.readonlyRootFilesystem ?? true), `relayEnvironment: ${name} is managed by TranswrapRelay; use the matching prop instead`);
  }
  const arch = (props.cpuArchitecture ?? ecs.CpuArchitecture.X86_64)._cpuArchitecture;
  check([ecs.CpuArchitecture.X86_64, ecs.CpuArchitecture.ARM64].some(a => a._cpuArchitecture === arch),
    `cpuArchitecture: the relay image is built for X86_64 or ARM64, got ${arch}; give an image built for it`);
  return problems;
}

/** Whether `problems` has one about `prop` or a part of it (`scaling` also covers `scaling.targetSessionsPerTask`). */
export function concerns(problems: string[], prop: string): boolean {
  return problems.some(p => p.startsWith(`${prop}:`) || p.startsWith(`${prop}.`));
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

/** Regions without AWS::Lambda::Url (cfn-lint E3006), where the endpoints API cannot be deployed. */
const REGIONS_WITHOUT_FUNCTION_URLS = [
  'ap-east-2', 'ap-south-2', 'ap-southeast-4', 'ap-southeast-5', 'ap-southeast-6', 'ap-southeast-7', 'ca-west-1',
  'cn-northwest-1', 'eu-central-2', 'eu-south-2', 'il-central-1', 'me-central-1', 'mx-central-1', 'us-gov-east-1', 'us-gov-west-1',
];

/** The endpoints API is a Lambda function URL (which some regions do not have) with CORS for the given origins. */
function endpointsApiProblems(allowedOrigins: string[], region: string): string[] {
  const problems: string[] = [];
  if (!Token.isUnresolved(region) && REGIONS_WITHOUT_FUNCTION_URLS.includes(region)) {
    problems.push(`endpointsApi: Lambda function URLs do not exist in ${region}, so the endpoints API cannot be deployed there; `
      + 'leave endpointsApi unset and list relays with the CLI (`endpoints --table`) or from your backend (grantReadRegistry)');
  }
  if (allowedOrigins.length === 0) {
    problems.push('endpointsApi.allowedOrigins: give at least one origin (e.g. https://studio.example.com)');
  }
  for (const origin of allowedOrigins) {
    if (origin !== '*' && !/^https?:\/\/[^/\s]+$/.test(origin)) {
      problems.push(`endpointsApi.allowedOrigins: '${origin}' is not an origin (scheme://host[:port], no path)`);
    }
  }
  return problems;
}
