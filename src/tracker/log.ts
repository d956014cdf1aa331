// Structured logging for the tracker: one JSON object per line with `level` and `msg` (as the relay's, docs/telemetry.md#logs).
// Callers pass only identifiers and statuses — never the raw event (container overrides may carry env values).

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type LogFields = Record<string, string | number | boolean | undefined>;

export function log(level: LogLevel, msg: string, fields: LogFields = {}): void {
  const line = JSON.stringify({ level, msg, ...fields });
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
}
