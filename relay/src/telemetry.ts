/** Log severity. */
export type Level = 'debug' | 'info' | 'warn' | 'error';

/** Registered secrets and how many live registrations hold each (sessions may share a key). */
const secrets = new Map<string, number>();
let service = 'transwrap-relay';

/** Fields the relay itself fills with fixed or generated values; never rewritten by redaction. */
const STRUCTURAL_FIELDS = new Set(['time', 'level', 'msg', 'session']);

/** Sets the value of the EMF `Service` dimension. */
export function setServiceName(name: string): void {
  service = name;
}

/**
 * Registers a value (token, stream key, publish URL) that must never be written out
 * (docs/telemetry.md#redaction); it is
 * scrubbed from the values of every log line while registered. Code already keeps secrets out of
 * log fields: this is a second net. Registrations are counted, so a value two sessions share stays
 * registered until both have forgotten it. Returns a function that forgets this registration
 * (calling it again does nothing).
 */
export function registerSecret(value: string): () => void {
  // Very short values would mangle ordinary words; they are also not meaningful secrets.
  if (value.length < 6) return () => {};
  secrets.set(value, (secrets.get(value) ?? 0) + 1);
  let forgotten = false;
  return () => {
    if (forgotten) return;
    forgotten = true;
    const n = (secrets.get(value) ?? 1) - 1;
    if (n > 0) secrets.set(value, n);
    else secrets.delete(value);
  };
}

/**
 * Replaces registered secrets inside string values, at any depth. Keys are never touched (a
 * secret equal to a field name must not rewrite the line's structure), nor are the structural
 * fields of a log line.
 */
function scrub(value: unknown, top = false): unknown {
  if (typeof value === 'string') {
    let out = value;
    for (const s of secrets.keys()) if (out.includes(s)) out = out.split(s).join('[redacted]');
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => scrub(v));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = top && STRUCTURAL_FIELDS.has(k) ? v : scrub(v);
    return out;
  }
  return value;
}

function write(obj: Record<string, unknown>, redact = true): void {
  // The round trip through JSON first applies toJSON (dates, errors…), so scrub sees what is written.
  const line = JSON.stringify(redact && secrets.size > 0 ? scrub(JSON.parse(JSON.stringify(obj)), true) : obj);
  process.stdout.write(`${line}\n`);
}

/** Writes one structured JSON log line to stdout (docs/telemetry.md#logs). */
export function log(level: Level, msg: string, fields: Record<string, unknown> = {}): void {
  write({ time: new Date().toISOString(), level, msg, ...fields });
}

/** A metric unit understood by CloudWatch. */
export type Unit = 'Count' | 'Kilobits/Second' | 'None';

/**
 * Writes one CloudWatch Embedded Metric Format line (docs/telemetry.md#metrics), namespace
 * `TranswrapRelay`, dimension `Service` (plus any extra dimensions, published both with and without them).
 */
export function metric(name: string, value: number, unit: Unit, extraDimensions: Record<string, string> = {}): void {
  const extra = Object.keys(extraDimensions);
  const dimensions = extra.length > 0 ? [['Service'], ['Service', ...extra]] : [['Service']];
  // Every string on a metric line is the code's own (metric and dimension names, the configured
  // service name, an error code): nothing to redact, and redaction must never rewrite them.
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
  }, false);
}
