#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';
import { endpointsCommand } from './endpoints-command';
import { explain } from './errors';
import { tokenCommand } from './token-command';

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
  .option('--ttl <duration>', 'lifetime, e.g. 30m, 1h, 12h', parseTtl, '1h')
  .action(tokenCommand);

function parseTtl(value: string): string {
  if (!/^\d+\s*(s|sec|secs|m|min|mins|h|hr|hrs|d|day|days)$/.test(value)) {
    throw new InvalidArgumentError('expected a number and a unit: s, m, h or d (e.g. 1h)');
  }
  return value;
}

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`cdk-transwrap-relay: ${explain(err)}\n`);
  process.exitCode = 1;
});
