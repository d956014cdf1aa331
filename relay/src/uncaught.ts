import { log, metric } from './telemetry.ts';

// What the relay does with an error nothing handled (main.ts installs these). It stays up: one
// session's bug must not take down the others. But it must not go unnoticed either, so each one is
// counted as the `UncaughtExceptions` metric (docs/telemetry.md#metrics), which an alarm can watch.

/** The `uncaughtException` handler: logs the error with its stack, and counts it. */
export function onUncaughtException(e: unknown): void {
  log('error', 'uncaught exception', { error: String(e), stack: e instanceof Error ? e.stack : undefined });
  metric('UncaughtExceptions', 1, 'Count');
}

/** The `unhandledRejection` handler: the same bug class in async code, counted the same way. */
export function onUnhandledRejection(e: unknown): void {
  log('error', 'unhandled rejection', { error: String(e), stack: e instanceof Error ? e.stack : undefined });
  metric('UncaughtExceptions', 1, 'Count');
}
