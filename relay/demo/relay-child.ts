import type { Subprocess } from 'bun';
import { fileURLToPath } from 'node:url';

/** The relay, running as a child process (`bun relay/src/main.ts`) so the demo stays decoupled from its internals. */
export interface RelayChild {
  /** `http://127.0.0.1:<port>/`: the broadcaster page. */
  readonly httpUrl: string;
  readonly exited: Promise<number>;
  /** SIGTERM (the relay drains), then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

/** Where the relay child on `port` serves its page: `http://127.0.0.1:<port>/`. */
export function relayHttpUrl(port: number): string {
  return `http://127.0.0.1:${port}/`;
}

/** Starts the relay on loopback with `env` (docs/configuration.md#variables) and waits until `/healthz` answers. */
export async function startRelayChild(port: number, env: Record<string, string>, print: (line: string) => void): Promise<RelayChild> {
  const child: Subprocess<'ignore', 'pipe', 'pipe'> = Bun.spawn([process.execPath, MAIN], {
    env: { ...process.env, ...env, RELAY_HOST: '127.0.0.1', RELAY_PORT: String(port) },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    // Its own process group: Ctrl-C in the terminal reaches only the demo, which then stops the
    // relay with one SIGTERM (a second signal would make the relay skip its drain).
    detached: true,
  });
  // If the demo dies without its shutdown path, do not leave the relay behind.
  process.on('exit', () => child.kill('SIGKILL'));
  void forwardLines(child.stdout, print);
  void forwardLines(child.stderr, print);
  const httpUrl = relayHttpUrl(port);
  let exitCode: number | undefined;
  const exited = child.exited.then((code) => (exitCode = code));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exitCode !== undefined) throw new Error(`the relay exited with code ${exitCode} before it was ready`);
    try {
      if ((await fetch(`${httpUrl}healthz`)).ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('the relay did not answer /healthz within 15 s');
    }
    await Bun.sleep(100);
  }
  return {
    httpUrl,
    exited,
    async stop(graceMs = 5000) {
      if (exitCode !== undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Prints the relay's JSON log lines compactly (`relay info session started`); metric lines
 * (CloudWatch EMF, with `_aws`) are left out: they are for CloudWatch, not for a person.
 */
async function forwardLines(stream: ReadableStream<Uint8Array>, print: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let rest = '';
  for await (const chunk of stream) {
    rest += decoder.decode(chunk, { stream: true });
    const lines = rest.split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        const entry = JSON.parse(line) as { level?: string; msg?: string; session?: string; code?: string; _aws?: unknown };
        if (entry._aws) continue;
        const extra = [entry.session && `session=${entry.session}`, entry.code && `code=${entry.code}`].filter(Boolean).join(' ');
        print(`relay ${entry.level ?? ''} ${entry.msg ?? line}${extra ? ` (${extra})` : ''}`);
      } catch {
        print(`relay ${line}`);
      }
    }
  }
}
