import { createServer } from 'http';
import { close, listen } from '../support/loopback-server';

/**
 * Route 53 has no local implementation; this HTTP server speaks the part of its REST-XML API the
 * tracker and the reconciler use (ChangeResourceRecordSets; ListResourceRecordSets in Route 53's
 * order, paged) over an in-memory zone of A records, so the real Route53Client (serialisation,
 * AWS_ENDPOINT_URL_ROUTE_53, error parsing) stays in the loop.
 */
export interface Route53Stub {
  readonly endpoint: string;
  /** name (no trailing dot) → IP of each A record in the zone. */
  readonly records: Map<string, string>;
  /** Every change received, in order, as `ACTION name ip`. */
  readonly changes: string[];
  /** Fail the next N change requests with a throttling error. */
  failNextChanges: number;
  /** Called when a change arrives, before it is applied (to interleave a concurrent event). */
  onChange?: (action: string, name: string) => Promise<void>;
  close(): Promise<void>;
}

const NS = 'https://route53.amazonaws.com/doc/2013-04-01/';

const tag = (xml: string, name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];

function error(code: string, message: string): string {
  return `<?xml version="1.0"?>\n<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`;
}

export async function startRoute53Stub(): Promise<Route53Stub> {
  const stub: Route53Stub = {
    endpoint: '', records: new Map(), changes: [], failNextChanges: 0, close: async () => {},
  };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', c => { body += c; });
    req.on('end', async () => {
      res.setHeader('content-type', 'text/xml');
      const url = new URL(req.url ?? '/', 'http://stub');
      if (req.method === 'GET' && /\/rrset\/?$/.test(url.pathname)) {
        // Route 53's order: by name with its labels reversed (example.com, a.example.com, b.example.com, …).
        const order = (name: string) => name.split('.').reverse().join('.');
        const start = order((url.searchParams.get('name') ?? '').replace(/\.$/, ''));
        const max = Number(url.searchParams.get('maxitems') ?? 300);
        const names = [...stub.records.keys()].filter(n => order(n) >= start).sort((a, b) => order(a).localeCompare(order(b)));
        const sets = names.slice(0, max).map(n => `<ResourceRecordSet><Name>${n}.</Name><Type>A</Type><TTL>60</TTL><ResourceRecords><ResourceRecord><Value>${stub.records.get(n)}</Value></ResourceRecord></ResourceRecords></ResourceRecordSet>`);
        const next = names[max] === undefined ? '<IsTruncated>false</IsTruncated>' : `<IsTruncated>true</IsTruncated><NextRecordName>${names[max]}.</NextRecordName><NextRecordType>A</NextRecordType>`;
        res.end(`<?xml version="1.0"?>\n<ListResourceRecordSetsResponse xmlns="${NS}"><ResourceRecordSets>${sets.join('')}</ResourceRecordSets>${next}<MaxItems>${max}</MaxItems></ListResourceRecordSetsResponse>`);
        return;
      }
      if (req.method === 'POST' && /\/rrset\/?$/.test(url.pathname)) {
        if (stub.failNextChanges > 0) {
          stub.failNextChanges -= 1;
          res.statusCode = 400;
          res.end(error('Throttling', 'Rate exceeded'));
          return;
        }
        const action = tag(body, 'Action')!;
        const name = tag(body, 'Name')!.replace(/\.$/, '');
        const ip = tag(body, 'Value')!;
        await stub.onChange?.(action, name);
        if (action === 'DELETE' && stub.records.get(name) !== ip) {
          res.statusCode = 400;
          res.end(error('InvalidChangeBatch', `Tried to delete resource record set [name='${name}.', type='A'] but it was not found`));
          return;
        }
        stub.changes.push(`${action} ${name} ${ip}`);
        if (action === 'DELETE') stub.records.delete(name);
        else stub.records.set(name, ip);
        res.end(`<?xml version="1.0"?>\n<ChangeResourceRecordSetsResponse xmlns="${NS}"><ChangeInfo><Id>/change/C1</Id><Status>PENDING</Status><SubmittedAt>2026-11-28T00:00:00Z</SubmittedAt></ChangeInfo></ChangeResourceRecordSetsResponse>`);
        return;
      }
      res.statusCode = 404;
      res.end(error('NotImplemented', `${req.method} ${url.pathname}`));
    });
  });
  const endpoint = await listen(server);
  return Object.assign(stub, { endpoint, close: () => close(server) });
}
