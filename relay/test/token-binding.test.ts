// Tokens bound to one ingest and stream key (docs/configuration.md#authentication): a bound token
// copied from a page cannot be replayed elsewhere. Real relay, real FFmpeg and nginx-rtmp.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { makeTestMedia } from '../../harness/clips.ts';
import { streamFile } from '../../harness/media.ts';
import { startRelayFixture, type RelayFixture } from '../../harness/relay-fixture.ts';
import type { RelayProcess } from '../../harness/relay-process.ts';
import type { RtmpServer } from '../../harness/rtmp-server.ts';
import { exchange } from '../../harness/ws-client.ts';
import { bindingProblem, streamKeyHash } from '../src/token-binding.ts';

let fixture: RelayFixture;
let relay: RelayProcess;
let rtmp: RtmpServer;
let other: RtmpServer;

beforeAll(async () => {
  fixture = await startRelayFixture({ sinks: 2 });
  ({ relay, rtmp } = fixture);
  other = fixture.sinks[1]!;
  await makeTestMedia('h264-opus-mkv', 3);
});

afterAll(async () => {
  await fixture?.stop();
});

const start = (token: string, ingest: string, streamKey: string) => JSON.stringify(fixture.startMessage(streamKey, { token, ingest }));

describe('a bound token', () => {
  test('streams to its own ingest and key', async () => {
    const key = 'sk_bound_ok_4d2e';
    const token = await fixture.makeToken({ claims: { ingest: rtmp.rtmpUrl.toUpperCase().replace('/LIVE/', '/live'), skh: streamKeyHash(key) } });
    const result = await streamFile(relay.wsUrl, JSON.parse(start(token, rtmp.rtmpUrl, key)), await makeTestMedia('h264-opus-mkv', 3), { seconds: 3 });
    expect(result.messages[0]).toMatchObject({ type: 'ready' });
    expect(result.closeCode).toBe(1000);
  });

  test('is refused for another ingest, before any FFmpeg starts', async () => {
    const token = await fixture.makeToken({ claims: { ingest: rtmp.rtmpUrl } });
    const result = await exchange(relay.wsUrl, [start(token, other.rtmpUrl, 'sk_bound_elsewhere_7a1c')]);
    expect(result.messages).toEqual([{ type: 'error', code: 'UNAUTHORIZED', message: 'token is bound to another ingest' }]);
    expect(result.closeCode).toBe(4001);
  });

  test('is refused for another stream key', async () => {
    const token = await fixture.makeToken({ claims: { skh: streamKeyHash('sk_the_bound_key_1') } });
    const result = await exchange(relay.wsUrl, [start(token, rtmp.rtmpUrl, 'sk_another_key_2')]);
    expect(result.messages).toEqual([{ type: 'error', code: 'UNAUTHORIZED', message: 'token is bound to another stream key' }]);
    expect(result.closeCode).toBe(4001);
  });
});

test('unbound tokens, and claims of the wrong type, as the rule says', () => {
  expect(bindingProblem({}, 'rtmp://a.example.com/app/', 'k')).toBeUndefined();
  expect(bindingProblem(undefined, 'rtmp://a.example.com/app/', 'k')).toBeUndefined();
  expect(bindingProblem({ ingest: 'RTMP://A.Example.com/app' }, 'rtmp://a.example.com/app/', 'k')).toBeUndefined();
  expect(bindingProblem({ ingest: 'rtmp://a.example.com/APP/' }, 'rtmp://a.example.com/app/', 'k')).toBe('token is bound to another ingest');
  expect(bindingProblem({ ingest: 42 }, 'rtmp://a.example.com/app/', 'k')).toBe('token is bound to another ingest');
  expect(streamKeyHash('k')).toBe('glTDKakoUPbVOd03b0gW7idkUX2l4CNVFK9DMWRIDXo');
});

test('a token for several destinations lists them: each destination must be among the ingests, and its key among the hashes', () => {
  const claims = { ingest: ['rtmp://a.example.com/app/', 'rtmps://b.example.com/live'], skh: [streamKeyHash('ka'), streamKeyHash('kb')] };
  expect(bindingProblem(claims, 'rtmp://a.example.com/app/', 'ka')).toBeUndefined();
  expect(bindingProblem(claims, 'RTMPS://B.example.com/live/', 'kb')).toBeUndefined();
  expect(bindingProblem(claims, 'rtmp://c.example.com/app/', 'ka')).toBe('token is bound to another ingest');
  expect(bindingProblem(claims, 'rtmp://a.example.com/app/', 'kc')).toBe('token is bound to another stream key');
  // Anything but strings in the list binds to nothing.
  expect(bindingProblem({ ingest: ['rtmp://a.example.com/app/', 7] }, 'rtmp://a.example.com/app/', 'ka')).toBe('token is bound to another ingest');
  expect(bindingProblem({ ingest: [] }, 'rtmp://a.example.com/app/', 'ka')).toBe('token is bound to another ingest');
});
