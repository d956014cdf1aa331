import { startRelay, type RelayProcess } from '../../harness/relay-process.ts';

/** Where the relay on `port` serves its page: `http://127.0.0.1:<port>/`. */
export function relayHttpUrl(port: number): string {
  return `http://127.0.0.1:${port}/`;
}

/**
 * Starts the relay as the harness does (`bun relay/src/main.ts`, a child process, so the demo stays
 * decoupled from its internals) on loopback with `env` on top of the caller's own RELAY_* settings
 * (docs/configuration.md#variables), printing its log lines for a person.
 */
export async function startRelayChild(port: number, env: Record<string, string>, print: (line: string) => void): Promise<RelayProcess> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('RELAY_') && e[1] !== undefined));
  const relay = await startRelay({ ...inherited, ...env, RELAY_PORT: String(port) }, {
    // Its own process group: Ctrl-C in the terminal reaches only the demo, which then stops the
    // relay with one SIGTERM (a second signal would make the relay skip its drain).
    detached: true,
    onLine: (line) => {
      const text = describeLogLine(line);
      if (text) print(text);
    },
  });
  // If the demo dies without its shutdown path, do not leave the relay behind.
  process.on('exit', () => relay.signal('SIGKILL'));
  return relay;
}

/**
 * A relay log line, compactly (`relay info session started`); metric lines (CloudWatch EMF, with
 * `_aws`) are left out: they are for CloudWatch, not for a person.
 */
function describeLogLine(line: string): string | undefined {
  try {
    const entry = JSON.parse(line) as { level?: string; msg?: string; session?: string; code?: string; _aws?: unknown };
    if (entry._aws) return undefined;
    const extra = [entry.session && `session=${entry.session}`, entry.code && `code=${entry.code}`].filter(Boolean).join(' ');
    return `relay ${entry.level ?? ''} ${entry.msg ?? line}${extra ? ` (${extra})` : ''}`;
  } catch {
    return `relay ${line}`;
  }
}
