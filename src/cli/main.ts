#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';
import { endpointsCommand } from './endpoints-command';
import { explain } from './errors';
import { tokenCommand } from './token-command';

/** The longest token lifetime relays accept by default (RELAY_MAX_TOKEN_LIFETIME_MS, docs/configuration.md#authentication). */
const MAX_TTL_HOURS = 24;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

const program = new Command()
  .name('cdk-transwrap-relay')
  .description('Find live Transwrap relays and mint relay tokens')
  .showHelpAfterError();

program.command('endpoints')
  .description('List live relays (status RUNNING with a public IP) from the registry table')
  .requiredOption('--table <name>', 'registry table name (stack output RegistryTableName)')
  .option('--json', 'print JSON instead of a table')
  .option('--probe', "ask each relay's /healthz for its state and session count")
  .action(endpointsCommand);

program.command('token')
  .description('Mint a relay token (HS256 JWT) from the token secret')
  .option('--secret-id <arn>', 'Secrets Manager secret holding the key (stack output AuthSecretArn)')
  .option('--secret-value <->', "'-': read the key from stdin (for offline use)")
  .option('--ttl <duration>', `lifetime, e.g. 30m, 1h, 12h (at most ${MAX_TTL_HOURS}h)`, parseTtl, '1h')
  .option('--ingest <url>', 'bind the token to this ingest: relays refuse it for any other (repeat it for a broadcast to several)', collect, [])
  .option('--subject <name>', 'who the token is for (its sub): relays cap the sessions one subject holds at once')
  .action(tokenCommand);

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseTtl(value: string): string {
  const m = /^(\d+)\s*(s|sec|secs|m|min|mins|h|hr|hrs|d|day|days)$/.exec(value);
  if (!m) throw new InvalidArgumentError('expected a number and a unit: s, m, h or d (e.g. 1h)');
  if (Number(m[1]) * UNIT_SECONDS[m[2][0]] > MAX_TTL_HOURS * 3600) {
    throw new InvalidArgumentError(`at most ${MAX_TTL_HOURS}h: relays refuse tokens that live longer`);
  }
  return value;
}

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`cdk-transwrap-relay: ${explain(err)}\n`);
  process.exitCode = 1;
});
