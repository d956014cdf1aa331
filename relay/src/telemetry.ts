/** Log severity. */
export type Level = 'debug' | 'info' | 'warn' | 'error';

const secrets = new Set<string>();
let service = 'transwrap-relay';

/** Sets the value of the EMF `Service` dimension. */
export function setServiceName(name: string): void {
  service = name;
}

/**
 * Registers a value (token, stream key, publish URL) that must never be written out; any log line
 * containing it is scrubbed. Code already keeps secrets out of log fields: this is a second net.
 * Returns a function that forgets the value again.
 */
export function registerSecret(value: string): () => void {
  // Very short values would mangle ordinary words; they are also not meaningful secrets.
  if (value.length < 6) return () => {};
  secrets.add(value);
  return () => secrets.delete(value);
}

function write(obj: Record<string, unknown>): void {
  let line = JSON.stringify(obj);
  for (const s of secrets) {
    if (line.includes(s)) line = line.split(s).join('[redacted]');
    const escaped = JSON.stringify(s).slice(1, -1);
    if (escaped !== s && line.includes(escaped)) line = line.split(escaped).join('[redacted]');
  }
  process.stdout.write(`${line}\n`);
}

/** Writes one structured JSON log line to stdout (Contract 5). */
export function log(level: Level, msg: string, fields: Record<string, unknown> = {}): void {
  write({ time: new Date().toISOString(), level, msg, ...fields });
}

/** A metric unit understood by CloudWatch. */
export type Unit = 'Count' | 'Kilobits/Second' | 'None';

/**
 * Writes one CloudWatch Embedded Metric Format line, namespace `TranswrapRelay`, dimension
 * `Service` (plus any extra dimensions, published both with and without them).
 */
export function metric(name: string, value: number, unit: Unit, extraDimensions: Record<string, string> = {}): void {
  const extra = Object.keys(extraDimensions);
  const dimensions = extra.length > 0 ? [['Service'], ['Service', ...extra]] : [['Service']];
  write({
    _aws: {
      Timestamp: Date.now(),
      CloudWatchMetrics: [{ Namespace: 'TranswrapRelay', Dimensions: dimensions, Metrics: [{ Name: name, Unit: unit }] }],
    },
    level: 'info',
    msg: 'metric',
    Service: service,
    ...extraDimensions,
    [name]: value,
  });
}
