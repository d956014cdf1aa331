/** Log severity. */
export type Level = 'debug' | 'info' | 'warn' | 'error';

/** Each session's registered secrets, by session id (docs/telemetry.md#redaction). */
const secrets = new Map<string, Set<string>>();
let service = 'transwrap-relay';

/** Shorter values are never registered: they would mangle ordinary words, and are no meaningful secrets. */
const MIN_SECRET_LENGTH = 6;

/**
 * Fields whose values the relay itself fills: ids, addresses, codes, numbers and fixed texts, never
 * built from a token, key or URL. Redaction never rewrites them, so that no value a client picks (a
 * key equal to an address or a code) can blank out what an operator reads a line for.
 */
const STRUCTURAL_FIELDS = new Set([
  'time', 'level', 'msg', 'session', 'remote', 'code', 'closeCode', 'reason', 'variable',
  'pipeline', 'inputFormat', 'audio', 'ingest', 'signal', 'failure',
]);

/** Sets the value of the EMF `Service` dimension. */
export function setServiceName(name: string): void {
  service = name;
}

/**
 * Registers values (token, stream key, publish URL) that must never be written out with the lines
 * of `session` (docs/telemetry.md#redaction): they are scrubbed from the non-structural values of
 * every log line whose `session` field is this id, and of no other line. Code already keeps secrets
 * out of log fields: this is a second net. Scoped to the session, because a value one client chose
 * must not rewrite what the relay logs about anyone else.
 */
export function registerSecrets(session: string, values: readonly string[]): void {
  const own = values.filter((v) => v.length >= MIN_SECRET_LENGTH);
  if (own.length === 0) return;
  const registered = secrets.get(session) ?? new Set<string>();
  for (const v of own) registered.add(v);
  secrets.set(session, registered);
}

/** Forgets everything registered for `session`. Calling it again does nothing. */
export function forgetSecrets(session: string): void {
  secrets.delete(session);
}

/** Replaces each of `own` inside string values, at any depth. Keys are never touched. */
function scrub(value: unknown, own: ReadonlySet<string>): unknown {
  if (typeof value === 'string') {
    let out = value;
    for (const s of own) if (out.includes(s)) out = out.split(s).join('[redacted]');
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => scrub(v, own));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = scrub(v, own);
    return out;
  }
  return value;
}

/** A log line with its session's secrets scrubbed from its non-structural fields. */
function redactLine(line: Record<string, unknown>): Record<string, unknown> {
  const own = typeof line.session === 'string' ? secrets.get(line.session) : undefined;
  if (!own) return line;
  // The round trip through JSON first applies toJSON (dates, errors…), so scrub sees what is written.
  const plain = JSON.parse(JSON.stringify(line)) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(plain)) out[k] = STRUCTURAL_FIELDS.has(k) ? v : scrub(v, own);
  return out;
}

function write(obj: Record<string, unknown>, redact = true): void {
  process.stdout.write(`${JSON.stringify(redact ? redactLine(obj) : obj)}\n`);
}

/** Writes one structured JSON log line to stdout (docs/telemetry.md#logs). */
export function log(level: Level, msg: string, fields: Record<string, unknown> = {}): void {
  write({ time: new Date().toISOString(), level, msg, ...fields });
}

/** A metric unit understood by CloudWatch. */
export type Unit = 'Count' | 'Kilobits/Second' | 'Milliseconds' | 'None';

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
