import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { log, metric, registerSecret } from '../../src/telemetry.ts';

// Captures what telemetry writes to stdout, one parsed object per line.
let lines: string[] = [];
let realWrite: typeof process.stdout.write;
const forgets: (() => void)[] = [];

beforeEach(() => {
  lines = [];
  realWrite = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter((l) => l.length > 0));
    return true;
  }) as typeof process.stdout.write;
});

afterEach(() => {
  process.stdout.write = realWrite;
  for (const f of forgets.splice(0)) f();
});

const register = (value: string) => {
  const f = registerSecret(value);
  forgets.push(f);
  return f;
};
const parsed = () => lines.map((l) => JSON.parse(l));

describe('secret redaction (docs/telemetry.md#redaction)', () => {
  test('a secret is replaced inside values, at any depth', () => {
    register('sk_live_secret_123');
    log('warn', 'ffmpeg exited', { session: 's-1', detail: 'tls: rtmps://h/app/sk_live_secret_123 failed', nested: { list: ['x sk_live_secret_123 y'] } });
    expect(lines.join('\n')).not.toContain('sk_live_secret_123');
    const [l] = parsed();
    expect(l.detail).toBe('tls: rtmps://h/app/[redacted] failed');
    expect(l.nested.list[0]).toBe('x [redacted] y');
  });

  test('a secret equal to a metric or field name rewrites neither metric lines nor field names', () => {
    for (const name of ['ActiveSessions', 'session', 'TranswrapRelay', 'Service', 'transwrap-relay', 'SessionsFailed', 'Dimensions', 'connection opened', 'INGEST_FAILED']) {
      register(name);
    }
    metric('ActiveSessions', 3, 'Count');
    metric('SessionsFailed', 1, 'Count', { Code: 'INGEST_FAILED' });
    log('info', 'connection opened', { session: 'a8f0c3e2-session', remote: '127.0.0.1', reason: 'the ActiveSessions gauge' });
    const [gauge, failed, opened] = parsed();
    expect(gauge).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Namespace: 'TranswrapRelay', Dimensions: [['Service']], Metrics: [{ Name: 'ActiveSessions', Unit: 'Count' }] }] },
      Service: 'transwrap-relay',
      ActiveSessions: 3,
    });
    expect(failed).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Dimensions: [['Service'], ['Service', 'Code']], Metrics: [{ Name: 'SessionsFailed' }] }] },
      Code: 'INGEST_FAILED',
      SessionsFailed: 1,
    });
    // Field names and the structural fields (time, level, msg, session) stay; other values are scrubbed.
    expect(Object.keys(opened)).toEqual(['time', 'level', 'msg', 'session', 'remote', 'reason']);
    expect(opened).toMatchObject({ level: 'info', msg: 'connection opened', session: 'a8f0c3e2-session', remote: '127.0.0.1', reason: 'the [redacted] gauge' });
    expect(lines.join('\n')).not.toMatch(/"\[redacted\]":/);
  });

  test('registrations are counted: a key two sessions share stays redacted until both forget it', () => {
    const first = register('sk_shared_key_42');
    const second = register('sk_shared_key_42');
    first();
    first(); // forgetting twice does not take the other session's registration with it
    log('info', 'x', { detail: 'sk_shared_key_42' });
    second();
    log('info', 'y', { detail: 'sk_shared_key_42' });
    const [during, after] = parsed();
    expect(during.detail).toBe('[redacted]');
    expect(after.detail).toBe('sk_shared_key_42');
  });

  test('short values are not registered', () => {
    register('info');
    log('info', 'info', { detail: 'info' });
    expect(parsed()[0]).toMatchObject({ level: 'info', msg: 'info', detail: 'info' });
  });
});
