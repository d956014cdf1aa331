import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CliError } from './errors';
import { probeRelay, ProbeResult } from '../registry/health-probe';
import { listLiveRelays, relayStreamUrl } from '../registry/live-relays';

interface EndpointsOptions {
  readonly table: string;
  readonly json?: boolean;
  readonly probe?: boolean;
}

/** `endpoints`: prints the live relays, optionally with each one's health and session count. */
export async function endpointsCommand(options: EndpointsOptions): Promise<void> {
  const client = new DynamoDBClient({});
  const relays = await listLiveRelays(client, options.table).catch(async (e: { name?: string }) => {
    if (e.name !== 'ResourceNotFoundException') throw e;
    const region = await client.config.region();
    throw new CliError(`table ${options.table} not found in region ${region}: use the RegistryTableName output of the stack, and set AWS_REGION to the stack's region`);
  });
  if (relays.length === 0) {
    throw new CliError(`no live relays in table ${options.table}: the service may be scaled to zero or its tasks still starting (check the ECS service)`);
  }
  const probes: (ProbeResult | undefined)[] = options.probe
    ? await Promise.all(relays.map(r => probeRelay(r)))
    : relays.map(() => undefined);
  const rows = relays.map((relay, i) => ({
    url: relayStreamUrl(relay),
    publicIp: relay.publicIp,
    port: relay.port,
    ...(relay.hostname ? { hostname: relay.hostname } : {}),
    availabilityZone: relay.availabilityZone,
    startedAt: relay.startedAt,
    taskArn: relay.taskArn,
    ...(probes[i] ? { health: probes[i]!.status, sessions: probes[i]!.sessions } : {}),
  }));

  if (options.json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  const header = ['URL', 'AZ', 'STARTED', ...(options.probe ? ['HEALTH', 'SESSIONS'] : [])];
  const lines = rows.map(r => [
    r.url, r.availabilityZone ?? '-', r.startedAt ?? '-',
    ...(options.probe ? [r.health ?? '-', r.sessions === undefined ? '-' : String(r.sessions)] : []),
  ]);
  process.stdout.write(formatTable([header, ...lines]));
}

function formatTable(rows: string[][]): string {
  const widths = rows[0].map((_, col) => Math.max(...rows.map(r => r[col].length)));
  return rows.map(r => r.map((cell, col) => cell.padEnd(widths[col])).join('  ').trimEnd()).join('\n') + '\n';
}
