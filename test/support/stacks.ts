import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { TranswrapRelay, TranswrapRelayProps } from '../../src';

/** An empty stack in a fixed account and region, as a user's app would have. */
export function emptyStack(): { app: App; stack: Stack } {
  const app = new App();
  const stack = new Stack(app, 'RelayStack', { env: { account: '111122223333', region: 'us-west-2' } });
  return { app, stack };
}

/** A stack holding one relay. */
export function relayStack(props?: TranswrapRelayProps): { app: App; stack: Stack; relay: TranswrapRelay } {
  const { app, stack } = emptyStack();
  const relay = new TranswrapRelay(stack, 'Relay', props);
  return { app, stack, relay };
}

/**
 * Asset hashes change with every edit of relay/ or the Lambda bundle; masking them keeps
 * snapshots about the infrastructure, not about file contents.
 */
export const assetHashSerializer = {
  test: (val: unknown) => typeof val === 'string' && /[0-9a-f]{64}/.test(val),
  print: (val: unknown) => JSON.stringify((val as string).replace(/[0-9a-f]{64}/g, '[ASSET-HASH]')),
};

/** The synth errors reported on a stack (the construct reports invalid props this way, all at once). */
export function synthErrors(stack: Stack): string[] {
  return Annotations.fromStack(stack).findError('*', Match.anyValue()).map(m => String(m.entry.data));
}
