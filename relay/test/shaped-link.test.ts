/**
 * The shaped link (harness/shaped-link.ts) is a real bottleneck: a plain TCP upload through it
 * arrives at the configured rate, a rate change takes effect on an open connection, the relay
 * behind it serves its page and publishes to nginx, and nothing of it is left once it is closed,
 * even by a process that was killed.
 */

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'bun:test';
import { waitFor } from '../../harness/ports.ts';
import { REPO_ROOT } from '../../harness/relay-process.ts';
import { startShapedLink, type ShapedLink } from '../../harness/shaped-link.ts';
import { startShapedRelay, type ShapedRelay } from '../../harness/shaped-relay.ts';
import { exchange } from '../../harness/ws-client.ts';

const SINK = join(REPO_ROOT, 'harness', 'byte-sink.ts');
const SINK_PORT = 9400;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A byte sink inside the link's namespace: `received()` is the last total it printed. */
async function startSink(link: ShapedLink): Promise<{ received(): number }> {
  const [cmd, ...args] = link.inside([process.execPath, SINK, link.farAddress, String(SINK_PORT)]);
  const child = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  cleanups.push(async () => {
    // Closing stdin ends it; SIGKILL if it has not gone within 2 s.
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    if (child.exitCode === null && child.signalCode === null) await new Promise((resolve) => child.once('exit', resolve));
    clearTimeout(timer);
  });
  let last = 0;
  let listening = false;
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    for (const line of chunk.split('\n')) {
      if (line === 'listening') listening = true;
      const m = /^(\d+) (\d+)$/.exec(line);
      if (m) last = Number(m[2]);
    }
  });
  await waitFor(() => {
    if (child.exitCode !== null) throw new Error(`byte sink exited with ${child.exitCode}: ${err}`);
    return listening;
  }, 15_000, 'the byte sink to listen inside the namespace');
  return { received: () => last };
}

/** Writes as fast as the socket takes it until `stop()`. */
async function startSender(address: string): Promise<{ stop(): void }> {
  const chunk = new Uint8Array(64 * 1024);
  let stopped = false;
  const socket = await Bun.connect({
    hostname: address,
    port: SINK_PORT,
    socket: {
      data() {},
      // Refilled whenever the kernel's send buffer has room again: the sender is always backed up.
      drain(s) {
        while (!stopped && s.write(chunk) === chunk.byteLength);
      },
    },
  });
  while (socket.write(chunk) === chunk.byteLength);
  return {
    stop() {
      stopped = true;
      socket.end();
    },
  };
}

/**
 * Mbit/s that left the bottleneck over `ms`, from the qdisc's own byte counter: the receiver's
 * reports would carry its scheduling delays on a busy machine (a late read looks like a burst).
 * Each reading is stamped at the middle of the `tc` call that made it.
 */
async function measure(link: ShapedLink, ms: number): Promise<number> {
  const read = async () => {
    const before = performance.now();
    const { sentBytes } = await link.counters();
    return { t: (before + performance.now()) / 2, bytes: sentBytes };
  };
  const a = await read();
  await Bun.sleep(ms);
  const b = await read();
  return ((b.bytes - a.bytes) * 8) / ((b.t - a.t) / 1000) / 1e6;
}

describe('shaped link', () => {
  test('a TCP upload arrives at the cap, and changing the cap changes the rate on the open connection', async () => {
    const link = await startShapedLink({ rateMbit: 4 });
    cleanups.push(() => link.close());
    const sink = await startSink(link);
    const sender = await startSender(link.farAddress);
    cleanups.push(async () => sender.stop());

    // WHEN the cap goes 4 → 1.5 → 4 Mbit/s, each held for 4 s with the first second not measured
    await Bun.sleep(1000);
    const at4 = await measure(link, 3000);
    await link.setRate(1.5);
    await Bun.sleep(1000);
    const at1_5 = await measure(link, 3000);
    await link.setRate(4);
    await Bun.sleep(1000);
    const back4 = await measure(link, 3000);
    const counters = await link.counters();

    // THEN no rate is above its cap (the cap is real), each is near it (generous: a busy machine can
    // deliver less), and the change took effect on the open connection
    const rates = `measured ${at4.toFixed(2)} / ${at1_5.toFixed(2)} / ${back4.toFixed(2)} Mbit/s`;
    for (const [rate, cap] of [[at4, 4], [at1_5, 1.5], [back4, 4]] as const) {
      expect(rate, rates).toBeLessThan(cap * 1.1);
      expect(rate, rates).toBeGreaterThan(cap * 0.6);
    }
    expect(at1_5, rates).toBeLessThan(Math.min(at4, back4) * 0.5);
    expect(link.rateMbit).toBe(4);
    // … what left the bottleneck reached the far end, and its queue overflowed: TCP was pushed
    // back, as on a real uplink
    await waitFor(() => sink.received() >= counters.sentBytes * 0.9, 10_000, 'the sink to report what crossed the link');
    expect(counters.droppedPackets).toBeGreaterThan(0);
  });

  test('close() removes the namespace, the veth pair and its route', async () => {
    const link = await startShapedLink({ rateMbit: 2 });
    cleanups.push(() => link.close());
    expect(await sh('ip', 'netns', 'list')).toContain(link.netns);
    expect(await sh('ip', 'route', 'show', 'table', 'local')).toContain(link.farAddress);

    // WHEN
    await link.close();
    await link.close();

    // THEN
    expect(await sh('ip', 'netns', 'list')).not.toContain(link.netns);
    expect(await sh('ip', 'route', 'show', 'table', 'local')).not.toContain(`${link.farAddress} `);
    expect(await sh('ip', '-o', '-4', 'addr', 'show')).not.toContain(` ${link.hostAddress}/`);
    await expect(link.setRate(1)).rejects.toThrow('is closed');
  });

  test('a link whose process was killed is removed by the next start', async () => {
    // GIVEN a process that made a link and was SIGKILLed before it could clean up
    const script = `const { startShapedLink } = await import(${JSON.stringify(join(REPO_ROOT, 'harness', 'shaped-link.ts'))});`
      + ' const l = await startShapedLink({ rateMbit: 1 }); console.log(l.netns); setInterval(() => {}, 1000);';
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    await waitFor(() => /^twshaped-\S+$/m.test(out) || child.exitCode !== null, 20_000, 'the child to make its link');
    const orphan = /^(twshaped-\S+)$/m.exec(out)?.[1];
    if (!orphan) throw new Error(`the child made no link: ${out}`);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(await sh('ip', 'netns', 'list')).toContain(orphan);

    // WHEN
    const link = await startShapedLink({ rateMbit: 1 });
    cleanups.push(() => link.close());

    // THEN
    expect(await sh('ip', 'netns', 'list')).not.toContain(orphan);
  });

  test('refuses to start without root, saying why', async () => {
    // WHEN a process that is not root (util-linux's setpriv drops to nobody) asks for a link
    const script = `const { startShapedLink } = await import(${JSON.stringify(join(REPO_ROOT, 'harness', 'shaped-link.ts'))});`
      + ' try { const l = await startShapedLink({ rateMbit: 1 }); await l.close(); console.log("started"); } catch (e) { console.log(e.message); }';
    const proc = Bun.spawn(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { stdout: 'pipe', stderr: 'pipe' });
    const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
    const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]).finally(() => clearTimeout(timer));

    // THEN
    expect(out + err).toContain('shaped link: needs root');
  });

  test('the relay behind the cap serves its page through it and publishes to nginx on the host end', async () => {
    const shaped: ShapedRelay = await startShapedRelay({ rateMbit: 4 });
    cleanups.push(() => shaped.close());

    // WHEN the page is fetched and a session starts and stops through the link
    const page = await fetch(shaped.pageUrl, { signal: AbortSignal.timeout(10_000) });
    const streamKey = `shaped-${crypto.randomUUID()}`;
    const start = JSON.stringify({
      type: 'start', token: await shaped.makeToken(), ingest: shaped.rtmp.rtmpUrl, streamKey, mimeType: 'video/x-matroska;codecs=avc1,opus',
    });
    const result = await exchange(shaped.wsUrl, [start, async (messages) => {
      await waitFor(() => messages.some((m) => m.type === 'ready' || m.type === 'error'), 15_000, 'ready');
      return JSON.stringify({ type: 'stop' });
    }], 20_000);

    // THEN the page came through the cap and the relay accepted the ingest on the host end
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Go live');
    expect(shaped.pageUrl.startsWith(`http://${shaped.link.farAddress}:`)).toBe(true);
    expect(result.messages.map((m) => m.type), JSON.stringify(result.messages)).toContain('ready');
  });
});

function sh(cmd: string, ...args: string[]): Promise<string> {
  const proc = Bun.spawn([cmd, ...args], { stdout: 'pipe', stderr: 'pipe' });
  const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
  return new Response(proc.stdout).text().finally(() => clearTimeout(timer));
}
