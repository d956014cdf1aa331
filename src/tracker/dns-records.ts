// Per-task DNS records (optional): `<task-id>.<domain>` → the task's public IP, so browsers can reach
// each relay by a name its wildcard certificate covers.
import { ChangeResourceRecordSetsCommand, ListResourceRecordSetsCommand, Route53Client, RRType } from '@aws-sdk/client-route-53';

/** Where records go; from the environment the construct sets (DNS_ZONE_ID, DNS_DOMAIN, DNS_TTL). */
export interface DnsConfig {
  readonly zoneId: string;
  readonly domain: string;
  readonly ttl: number;
}

/** The DNS settings, or undefined when the construct manages no records. */
export function dnsConfigFromEnv(env: NodeJS.ProcessEnv): DnsConfig | undefined {
  if (!env.DNS_ZONE_ID || !env.DNS_DOMAIN) return undefined;
  const ttl = Number(env.DNS_TTL ?? 60);
  if (!Number.isInteger(ttl) || ttl < 1) throw new Error(`DNS_TTL is not a number of seconds: ${env.DNS_TTL}`);
  return { zoneId: env.DNS_ZONE_ID, domain: env.DNS_DOMAIN.replace(/\.$/, ''), ttl };
}

/** The task's host name: its task id (the last part of the ARN) under the domain. */
export function taskHostname(taskArn: string, domain: string): string {
  return `${taskArn.slice(taskArn.lastIndexOf('/') + 1).toLowerCase()}.${domain}`;
}

/** Points the name at the IP; UPSERT makes a repeat harmless. */
export async function upsertRecord(route53: Route53Client, dns: DnsConfig, name: string, ip: string): Promise<void> {
  await route53.send(new ChangeResourceRecordSetsCommand({
    HostedZoneId: dns.zoneId,
    ChangeBatch: {
      Comment: 'Transwrap relay task started',
      Changes: [{ Action: 'UPSERT', ResourceRecordSet: { Name: name, Type: 'A', TTL: dns.ttl, ResourceRecords: [{ Value: ip }] } }],
    },
  }));
}

/**
 * Removes the name's A record whatever it points at (a stopped task's event no longer carries the IP),
 * and does nothing when there is none, so a repeat is harmless.
 */
export async function deleteRecord(route53: Route53Client, dns: DnsConfig, name: string): Promise<boolean> {
  const out = await route53.send(new ListResourceRecordSetsCommand({
    HostedZoneId: dns.zoneId, StartRecordName: name, StartRecordType: 'A', MaxItems: 1,
  }));
  const record = out.ResourceRecordSets?.find(r => r.Type === 'A' && r.Name?.replace(/\.$/, '') === name);
  if (!record) return false;
  try {
    await route53.send(new ChangeResourceRecordSetsCommand({
      HostedZoneId: dns.zoneId,
      ChangeBatch: { Comment: 'Transwrap relay task stopped', Changes: [{ Action: 'DELETE', ResourceRecordSet: record }] },
    }));
  } catch (e) {
    // Deleted (or changed) by a concurrent invocation between the lookup and the delete: already done.
    if ((e as Error).name === 'InvalidChangeBatch') return false;
    throw e;
  }
  return true;
}

/** An ECS task id: the last part of a task ARN (32 hex digits), as the first label of a task's name. */
const TASK_LABEL = /^[0-9a-f]{32}$/;

/**
 * The task records in the zone: every A record named `<task id>.<domain>` (name → IP). Route 53 lists a
 * zone sorted by reversed labels, so the domain's names come together, starting at the domain itself.
 */
export async function listTaskRecords(route53: Route53Client, dns: DnsConfig): Promise<Map<string, string>> {
  const records = new Map<string, string>();
  let start: { name?: string; type?: RRType } = { name: dns.domain };
  while (start.name !== undefined) {
    const out = await route53.send(new ListResourceRecordSetsCommand({
      HostedZoneId: dns.zoneId, StartRecordName: start.name, StartRecordType: start.type, MaxItems: 300,
    }));
    for (const record of out.ResourceRecordSets ?? []) {
      const name = record.Name?.replace(/\.$/, '').toLowerCase() ?? '';
      if (name !== dns.domain && !name.endsWith(`.${dns.domain}`)) return records;
      const label = name.slice(0, -(dns.domain.length + 1));
      const ip = record.ResourceRecords?.[0]?.Value;
      if (record.Type === 'A' && TASK_LABEL.test(label) && ip !== undefined) records.set(name, ip);
    }
    start = out.IsTruncated ? { name: out.NextRecordName, type: out.NextRecordType } : {};
  }
  return records;
}
