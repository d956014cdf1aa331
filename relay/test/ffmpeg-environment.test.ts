import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { waitFor } from '../../harness/ports.ts';
import { startRelayFixture, type RelayFixture } from '../../harness/relay-fixture.ts';
import type { RelayProcess } from '../../harness/relay-process.ts';
import { openRelaySocket, until } from '../../harness/ws-client.ts';

// FFmpeg runs with PATH as its whole environment (docs/pipeline.md#ffmpegs-environment): none of the
// relay's secrets, and none of the variables FFmpeg or GnuTLS would act on, reach it.

// A stand-in, not a key: only its presence in FFmpeg's environment is checked.
const TLS_KEY = '-----BEGIN TEST KEY-----\nffmpeg-env-stand-in-key\n-----END TEST KEY-----';
const AWS_URI = '/v2/credentials/ffmpeg-env-fake-credentials-id';
let fixture: RelayFixture;
let relay: RelayProcess;
let reportDir: string;

beforeAll(async () => {
  reportDir = await mkdtemp(join(tmpdir(), 'relay-ffreport-'));
  fixture = await startRelayFixture({
    env: () => ({
      // Not used with RELAY_TLS=off, but present in the relay's environment as it is in provided mode.
      RELAY_TLS_KEY: TLS_KEY,
      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: AWS_URI,
      AWS_REGION: 'us-west-2',
      // Inherited, FFREPORT would make FFmpeg write its command line, publish URL included, to this folder.
      FFREPORT: `file=${reportDir}/report-%p.log:level=32`,
      SSLKEYLOGFILE: join(reportDir, 'tls-keys.log'),
    }),
  });
  relay = fixture.relay;
});

afterAll(async () => {
  await fixture?.stop();
  await rm(reportDir, { recursive: true, force: true });
});

test('FFmpeg gets PATH and nothing else of the relay\'s environment', async () => {
  const messages: any[] = [];
  const socket = await openRelaySocket(relay.wsUrl, (msg) => messages.push(msg));
  socket.ws.send(JSON.stringify(fixture.startMessage('sk_ffmpeg_env_7c6b', { mimeType: 'video/mp4' })));
  await until(messages, 'ready');
  const session: string = messages.find((m) => m.type === 'ready').session;
  await waitFor(() => relay.ffmpegPidOf(session) !== undefined, 15_000, 'the session ready line');
  const pid = relay.ffmpegPidOf(session)!;
  // FFmpeg waits on its stdin: it is running while its environment is read.
  const environ = await readFile(`/proc/${pid}/environ`, 'utf8');
  socket.ws.send(JSON.stringify({ type: 'stop' }));
  await socket.closedWithin(10_000, () => JSON.stringify(messages));

  const entries = environ.split('\0').filter((e) => e.length > 0);
  expect(entries.map((e) => e.slice(0, e.indexOf('=')))).toEqual(['PATH']);
  for (const value of [fixture.secret, 'ffmpeg-env-stand-in-key', AWS_URI, reportDir]) expect(environ).not.toContain(value);
  expect(entries[0]).toBe(`PATH=${process.env.PATH}`);
  // Nothing FFmpeg or GnuTLS would have written because of the relay's variables.
  expect(await readdir(reportDir)).toEqual([]);
  expect(existsSync(join(reportDir, 'tls-keys.log'))).toBe(false);
});
