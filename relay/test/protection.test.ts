import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { waitFor } from '../../harness/ports.ts';
import { startRelayFixture, type RelayFixture } from '../../harness/relay-fixture.ts';
import type { RelayProcess } from '../../harness/relay-process.ts';
import { exchange, until } from '../../harness/ws-client.ts';

// RELAY_SCALE_IN_PROTECTION=on: the task is protected from scale-in exactly while it has live
// sessions, through the ECS agent's task-protection endpoint (a fake agent here).

let agent: ReturnType<typeof Bun.serve>;
const calls: { method: string; path: string; body: any }[] = [];
let fixture: RelayFixture;
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
  fixture = await startRelayFixture({
    env: () => ({ RELAY_SCALE_IN_PROTECTION: 'on', ECS_AGENT_URI: `http://127.0.0.1:${agent.port}/v3/task-1234` }),
  });
  relay = fixture.relay;
});

afterAll(async () => {
  await fixture?.stop();
  await agent?.stop(true);
});

describe('scale-in protection', () => {
  test('on with the first live session, off when the last one ends', async () => {
    const start = JSON.stringify(fixture.startMessage('sk_protect', { mimeType: 'video/mp4' }));
    const r = await exchange(relay.wsUrl, [start, async (m) => {
      await until(m, 'ready');
      await waitFor(() => calls.length === 1, 15_000, 'protection to be turned on');
      return JSON.stringify({ type: 'stop' });
    }]);
    expect(r.closeCode).toBe(1000);
    await waitFor(() => calls.length === 2, 15_000, 'protection to be turned off');
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
