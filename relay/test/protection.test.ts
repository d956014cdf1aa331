import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { waitFor } from '../../harness/ports.ts';
import { startRelay, type RelayProcess } from '../../harness/relay-process.ts';
import { makeToken } from '../../harness/token.ts';
import { exchange, until } from '../../harness/ws-client.ts';

// RELAY_SCALE_IN_PROTECTION=on: the task is protected from scale-in exactly while it has live
// sessions, through the ECS agent's task-protection endpoint (a fake agent here).

const SECRET = 'protection-test-secret-31415926535897';
let agent: ReturnType<typeof Bun.serve>;
const calls: { method: string; path: string; body: any }[] = [];
let relay: RelayProcess;

beforeAll(async () => {
  agent = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      calls.push({ method: req.method, path: new URL(req.url).pathname, body: await req.json() });
      return Response.json({ protection: {} });
    },
  });
  relay = await startRelay({
    RELAY_AUTH_SECRET: SECRET,
    RELAY_ALLOWED_INGESTS: 'rtmp://127.0.0.1',
    RELAY_SCALE_IN_PROTECTION: 'on',
    ECS_AGENT_URI: `http://127.0.0.1:${agent.port}/v3/task-1234`,
  });
});

afterAll(async () => {
  await relay?.stop();
  await agent?.stop(true);
});

describe('scale-in protection', () => {
  test('on with the first live session, off when the last one ends', async () => {
    const start = JSON.stringify({
      type: 'start', token: await makeToken(SECRET), ingest: 'rtmp://127.0.0.1/live/', streamKey: 'sk_protect', mimeType: 'video/mp4',
    });
    const r = await exchange(relay.wsUrl, [start, async (m) => {
      await until(m, 'ready');
      await waitFor(() => calls.length === 1, 5000, 'protection to be turned on');
      return JSON.stringify({ type: 'stop' });
    }]);
    expect(r.closeCode).toBe(1000);
    await waitFor(() => calls.length === 2, 5000, 'protection to be turned off');
    expect(calls).toEqual([
      { method: 'PUT', path: '/v3/task-1234/task-protection/v1/state', body: { ProtectionEnabled: true, ExpiresInMinutes: 60 } },
      { method: 'PUT', path: '/v3/task-1234/task-protection/v1/state', body: { ProtectionEnabled: false } },
    ]);
  });

  test('refusals never touch it', async () => {
    const r = await exchange(relay.wsUrl, ['{nope']);
    expect(r.closeCode).toBe(4000);
    await Bun.sleep(200);
    expect(calls).toHaveLength(2);
  });
});
