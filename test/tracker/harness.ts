// Test harness for the tracker: a tiny EC2 HTTP stub,
// events cloned from AWS's documented sample, and console capture.
import { readFileSync } from 'fs';
import { createServer } from 'http';
import * as path from 'path';
import { listen, close } from '../support/loopback-server';

// AWS's documented example event, copied unchanged (test/fixtures/README.md says from where).
export const FIXTURE_PATH = path.join(__dirname, '..', 'fixtures', 'ecs-task-state-change.sample.json');
const FIXTURE_TEXT = readFileSync(FIXTURE_PATH, 'utf8');
const FIXTURE = JSON.parse(FIXTURE_TEXT);
export const FIXTURE_TASK_ARN: string = FIXTURE.detail.taskArn;
export const FIXTURE_ENI_ID = 'eni-abcd1234';

/** How the EC2 stub answers for one ENI id; ids it does not know get InvalidNetworkInterfaceID.NotFound. */
export type EniBehaviour =
  | { readonly privateIp: string; readonly publicIp?: string }
  | { readonly errorCode: string };

export interface Ec2Stub {
  readonly endpoint: string;
  /** The NetworkInterfaceId.N parameters of every DescribeNetworkInterfaces request received, in order. */
  readonly requests: string[][];
  readonly enis: Map<string, EniBehaviour>;
  close(): Promise<void>;
}

const EC2_NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

function ec2Error(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors>`
    + '<RequestID>ea966190-f9aa-478e-9ede-example</RequestID></Response>';
}

function eniXml(id: string, eni: { privateIp: string; publicIp?: string }): string {
  const association = eni.publicIp
    ? `<association><publicIp>${eni.publicIp}</publicIp><publicDnsName></publicDnsName><ipOwnerId>amazon</ipOwnerId></association>`
    : '';
  return `<item><networkInterfaceId>${id}</networkInterfaceId><subnetId>subnet-abcd1234</subnetId>`
    + '<availabilityZone>us-west-2c</availabilityZone><interfaceType>interface</interfaceType><status>in-use</status>'
    + `<privateIpAddress>${eni.privateIp}</privateIpAddress>${association}</item>`;
}

/**
 * EC2 is the one stand-in of these tests: there is no local EC2 implementation to run. Rather than mocking the
 * SDK, this HTTP server speaks EC2's query protocol for DescribeNetworkInterfaces, so the real EC2Client (its
 * serializer, endpoint resolution via AWS_ENDPOINT_URL_EC2 and XML/error parsing) stays in the loop.
 */
export async function startEc2Stub(): Promise<Ec2Stub> {
  const requests: string[][] = [];
  const enis = new Map<string, EniBehaviour>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const reply = (status: number, body: string) => {
        res.writeHead(status, { 'content-type': 'text/xml;charset=UTF-8' });
        res.end(body);
      };
      if (params.get('Action') !== 'DescribeNetworkInterfaces') {
        reply(400, ec2Error('InvalidAction', `The stub does not implement ${params.get('Action')}`));
        return;
      }
      const ids = [...params.entries()].filter(([k]) => /^NetworkInterfaceId\.\d+$/.test(k)).map(([, v]) => v);
      requests.push(ids);
      const items: string[] = [];
      for (const id of ids) {
        const eni = enis.get(id);
        if (eni === undefined) {
          reply(400, ec2Error('InvalidNetworkInterfaceID.NotFound', `The networkInterface ID '${id}' does not exist`));
          return;
        }
        if ('errorCode' in eni) {
          reply(400, ec2Error(eni.errorCode, 'You are not authorized to perform this operation.'));
          return;
        }
        items.push(eniXml(id, eni));
      }
      reply(200, `<?xml version="1.0" encoding="UTF-8"?>\n<DescribeNetworkInterfacesResponse xmlns="${EC2_NS}">`
        + `<requestId>fc45294c-006b-457b-bab9-012f5b3b0e40</requestId><networkInterfaceSet>${items.join('')}</networkInterfaceSet>`
        + '</DescribeNetworkInterfacesResponse>');
    });
  });
  const endpoint = await listen(server);
  return { endpoint, requests, enis, close: () => close(server) };
}

export { createRegistryTable, startDynalite } from '../support/dynalite';
export type { Dynalite } from '../support/dynalite';

export interface EventChanges {
  readonly taskArn?: string;
  readonly lastStatus?: string;
  readonly desiredStatus?: string;
  readonly version?: number;
  readonly eniId?: string;
  readonly privateIp?: string;
  readonly updatedAt?: string;
  /** Set on STOPPED events, as ECS does. */
  readonly stoppedAt?: string;
  /** Reverse the ENI attachment's `details` array (lookup must be by name, not position). */
  readonly reverseDetails?: boolean;
}

/** A deep clone of AWS's sample event with values changed (never the shape, apart from `stoppedAt` on stops). */
export function taskEvent(changes: EventChanges = {}): any {
  const text = changes.taskArn ? FIXTURE_TEXT.split(FIXTURE_TASK_ARN).join(changes.taskArn) : FIXTURE_TEXT;
  const event = JSON.parse(text);
  const d = event.detail;
  if (changes.lastStatus !== undefined) d.lastStatus = changes.lastStatus;
  if (changes.desiredStatus !== undefined) d.desiredStatus = changes.desiredStatus;
  if (changes.version !== undefined) d.version = changes.version;
  if (changes.updatedAt !== undefined) d.updatedAt = changes.updatedAt;
  if (changes.stoppedAt !== undefined) d.stoppedAt = changes.stoppedAt;
  const eni = d.attachments.find((a: any) => a.type === 'eni');
  for (const detail of eni.details) {
    if (detail.name === 'networkInterfaceId' && changes.eniId !== undefined) detail.value = changes.eniId;
    if (detail.name === 'privateIPv4Address' && changes.privateIp !== undefined) detail.value = changes.privateIp;
  }
  if (changes.reverseDetails) eni.details.reverse();
  return event;
}

export interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly [key: string]: unknown;
}

/** Captures console output during a test; every line must be one JSON object with `level` and `msg`. */
export function captureLogs(): { lines: () => LogLine[]; restore: () => void } {
  const raw: string[] = [];
  const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((m) =>
    jest.spyOn(console, m).mockImplementation((...args: unknown[]) => { raw.push(args.map(String).join(' ')); }));
  return {
    lines: () => raw.map((line) => {
      expect(line).not.toContain('\n');
      const parsed = JSON.parse(line);
      expect(typeof parsed.level).toBe('string');
      expect(typeof parsed.msg).toBe('string');
      return parsed as LogLine;
    }),
    restore: () => spies.forEach((s) => s.mockRestore()),
  };
}
