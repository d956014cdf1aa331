import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { forgetSecrets, log, metric, registerSecrets } from '../../src/telemetry.ts';

// Captures what telemetry writes to stdout, one parsed object per line.
let lines: string[] = [];
let realWrite: typeof process.stdout.write;
/** Sessions a test registered secrets for; forgotten after it. */
const registered: string[] = [];

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
  for (const session of registered.splice(0)) forgetSecrets(session);
});

const register = (session: string, ...values: string[]) => {
  registerSecrets(session, values);
  registered.push(session);
};
const parsed = () => lines.map((l) => JSON.parse(l));

describe('secret redaction (docs/telemetry.md#redaction)', () => {
  test('a session\'s secret is replaced inside the values of its own lines, at any depth', () => {
    register('s-1', 'sk_live_secret_123');
    log('warn', 'ffmpeg exited', { session: 's-1', detail: 'tls: rtmps://h/app/sk_live_secret_123 failed', nested: { list: ['x sk_live_secret_123 y'] } });
    expect(lines.join('\n')).not.toContain('sk_live_secret_123');
    const [l] = parsed();
    expect(l.detail).toBe('tls: rtmps://h/app/[redacted] failed');
    expect(l.nested.list[0]).toBe('x [redacted] y');
  });

  test('only the owning session\'s lines are redacted: not another session\'s, not the relay\'s own', () => {
    // A token holder picks keys equal to what other lines carry.
    register('s-chooser', '127.0.0.1', 'UNAUTHORIZED', 'unexpected error', 'ECONNRESET');
    log('info', 'connection opened', { session: 's-other', remote: '127.0.0.1' });
    log('warn', 'session failed', { session: 's-other', code: 'UNAUTHORIZED', closeCode: 4001, reason: 'missing token', started: false });
    log('error', 'unexpected error handling a frame', { session: 's-other', error: 'Error: ECONNRESET from 127.0.0.1' });
    log('error', 'uncaught exception', { error: 'Error: unexpected error ECONNRESET' });
    log('info', 'relay listening', { host: '127.0.0.1', port: 8443 });
    expect(parsed()).toMatchObject([
      { session: 's-other', remote: '127.0.0.1' },
      { session: 's-other', code: 'UNAUTHORIZED', closeCode: 4001, reason: 'missing token' },
      { session: 's-other', error: 'Error: ECONNRESET from 127.0.0.1' },
      { msg: 'uncaught exception', error: 'Error: unexpected error ECONNRESET' },
      { msg: 'relay listening', host: '127.0.0.1' },
    ]);
    expect(lines.join('\n')).not.toContain('[redacted]');
  });

  test('structural fields are never rewritten, not even on the owning session\'s lines', () => {
    register('s-own', '127.0.0.1', 'MEDIA_TIMEOUT', 'no media for 1500 ms', 'matroska', 'rtmp://127.0.0.1:1935', 'SIGKILL', 'output', 'RELAY_MAX_SESSIONS', 's-own-id');
    const structural = {
      session: 's-own',
      remote: '127.0.0.1',
      code: 'MEDIA_TIMEOUT',
      closeCode: 4408,
      reason: 'no media for 1500 ms',
      variable: 'RELAY_MAX_SESSIONS',
      pipeline: 'copy',
      inputFormat: 'matroska',
      audio: 'aac',
      ingest: 'rtmp://127.0.0.1:1935',
      signal: 'SIGKILL',
      failure: 'output',
    };
    log('warn', 'session failed', { ...structural, detail: 'output: connect to 127.0.0.1 failed' });
    const [l] = parsed();
    expect(l).toMatchObject({ level: 'warn', msg: 'session failed', ...structural });
    // Free text on the same line is still scrubbed.
    expect(l.detail).toBe('[redacted]: connect to [redacted] failed');
  });

  test('a secret equal to a metric or field name rewrites neither metric lines nor field names', () => {
    register('a8f0c3e2-session', 'ActiveSessions', 'session', 'TranswrapRelay', 'Service', 'transwrap-relay', 'SessionsFailed', 'Dimensions',
      'connection opened', 'INGEST_FAILED', 'detail');
    metric('ActiveSessions', 3, 'Count');
    metric('SessionsFailed', 1, 'Count', { Code: 'INGEST_FAILED' });
    log('info', 'connection opened', { session: 'a8f0c3e2-session', remote: '127.0.0.1', detail: 'the ActiveSessions gauge' });
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
    // Field names and the structural fields stay; other values are scrubbed.
    expect(Object.keys(opened)).toEqual(['time', 'level', 'msg', 'session', 'remote', 'detail']);
    expect(opened).toMatchObject({ level: 'info', msg: 'connection opened', session: 'a8f0c3e2-session', remote: '127.0.0.1', detail: 'the [redacted] gauge' });
    expect(lines.join('\n')).not.toMatch(/"\[redacted\]":/);
  });

  test('two sessions sharing a key: each one\'s registration covers its own lines until it forgets', () => {
    register('s-a', 'sk_shared_key_42');
    register('s-b', 'sk_shared_key_42');
    forgetSecrets('s-a');
    forgetSecrets('s-a'); // forgetting twice does nothing more
    log('info', 'x', { session: 's-a', detail: 'sk_shared_key_42' });
    log('info', 'y', { session: 's-b', detail: 'sk_shared_key_42' });
    const [a, b] = parsed();
    expect(a.detail).toBe('sk_shared_key_42');
    expect(b.detail).toBe('[redacted]');
  });

  test('short values are not registered', () => {
    register('s-short', 'info', 'abcde');
    log('info', 'info', { session: 's-short', detail: 'info abcde' });
    expect(parsed()[0]).toMatchObject({ level: 'info', msg: 'info', detail: 'info abcde' });
  });
});
