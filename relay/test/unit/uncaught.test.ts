import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { setServiceName } from '../../src/telemetry.ts';
import { onUncaughtException, onUnhandledRejection } from '../../src/uncaught.ts';

// Errors nothing handled are logged and counted (docs/telemetry.md#metrics): each one writes its log
// line and one `UncaughtExceptions` EMF line; the relay stays up.

let lines: any[] = [];
let realWrite: typeof process.stdout.write;

beforeEach(() => {
  lines = [];
  realWrite = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l)));
    return true;
  }) as typeof process.stdout.write;
  setServiceName('LiveRelay/Relay');
});

afterEach(() => {
  process.stdout.write = realWrite;
  setServiceName('transwrap-relay');
});

const metricLine = {
  _aws: {
    Timestamp: expect.any(Number),
    CloudWatchMetrics: [{ Namespace: 'TranswrapRelay', Dimensions: [['Service']], Metrics: [{ Name: 'UncaughtExceptions', Unit: 'Count' }] }],
  },
  level: 'info',
  msg: 'metric',
  Service: 'LiveRelay/Relay',
  UncaughtExceptions: 1,
};

describe('uncaught errors', () => {
  test('an uncaught exception is logged with its stack and counted once', () => {
    onUncaughtException(new TypeError('boom'));
    expect(lines).toEqual([
      { time: expect.any(String), level: 'error', msg: 'uncaught exception', error: 'TypeError: boom', stack: expect.stringContaining('TypeError: boom') },
      metricLine,
    ]);
  });

  test('each one counts: the metric is a count per occurrence, not a flag', () => {
    onUncaughtException('a thrown string');
    onUncaughtException(new Error('again'));
    expect(lines.filter((l) => l.msg === 'metric')).toEqual([metricLine, metricLine]);
    expect(lines.filter((l) => l.msg === 'uncaught exception').map((l) => l.error)).toEqual(['a thrown string', 'Error: again']);
  });

  test('an unhandled rejection is counted the same way', () => {
    onUnhandledRejection(new Error('rejected'));
    expect(lines).toEqual([
      { time: expect.any(String), level: 'error', msg: 'unhandled rejection', error: 'Error: rejected', stack: expect.any(String) },
      metricLine,
    ]);
  });
});
