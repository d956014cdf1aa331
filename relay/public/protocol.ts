/**
 * The relay protocol (docs/protocol.md): its paths, message shapes and close codes, defined once.
 * The relay imports this file too, and the construct's copies of the paths are held to it by
 * test/contract-parity.test.ts. Types, constants and one parser only: it runs in browsers.
 */

/** Path of the relay's WebSocket endpoint (docs/protocol.md#endpoint). */
export const STREAM_PATH = '/v1/stream';

/** Path of the relay's health document (docs/protocol.md#http-routes). */
export const HEALTH_PATH = '/healthz';

/** The first (and only) text frame the client sends to open a session. */
export interface StartMessage {
  readonly type: 'start';
  readonly token: string;
  readonly ingest: string;
  readonly streamKey: string;
  readonly mimeType: string;
}

/** Asks the relay to flush FFmpeg and end the session with 1000. */
export interface StopMessage {
  readonly type: 'stop';
}

/** The relay validated the start message and spawned FFmpeg: recording may begin. */
export interface ReadyMessage {
  readonly type: 'ready';
  readonly session: string;
  readonly pipeline: 'copy' | 'transcode';
}

/** FFmpeg connected to the ingest and writes output. */
export interface LiveMessage {
  readonly type: 'live';
}

/** Progress the relay parses from FFmpeg, about every 2 s. */
export interface StatsMessage {
  readonly type: 'stats';
  readonly bitrateKbps: number;
  readonly fps: number;
  readonly speed: number;
  readonly droppedFrames: number;
  readonly bufferedBytes: number;
}

/** Sent immediately before any non-1000 close. */
export interface ErrorMessage {
  readonly type: 'error';
  readonly code: RelayErrorCode;
  readonly message: string;
}

/** The relay flushed FFmpeg after a stop message; a 1000 close follows. */
export interface EndedMessage {
  readonly type: 'ended';
}

/** Any text frame the relay sends. */
export type RelayMessage = ReadyMessage | LiveMessage | StatsMessage | ErrorMessage | EndedMessage;

/** The WebSocket close code of each `error` frame's `code` (docs/protocol.md#close-codes). */
export const CLOSE_CODES = {
  MESSAGE_TOO_BIG: 1009,
  BAD_REQUEST: 4000,
  UNAUTHORIZED: 4001,
  DESTINATION_FORBIDDEN: 4003,
  UNAVAILABLE: 4013,
  MEDIA_TIMEOUT: 4408,
  UNSUPPORTED_MEDIA: 4415,
  INGEST_FAILED: 4502,
  INTERNAL: 1011,
} as const;

/** The `code` string of an `error` frame. */
export type RelayErrorCode = keyof typeof CLOSE_CODES;

/** The `code` a close code stands for, or undefined for a close code that is not the relay's. */
export function errorCodeOfClose(closeCode: number): RelayErrorCode | undefined {
  return (Object.keys(CLOSE_CODES) as RelayErrorCode[]).find((code) => CLOSE_CODES[code] === closeCode);
}

/**
 * Parses a text frame from the relay. Returns undefined for anything that is not a known message,
 * so a newer relay adding message types does not break an older client.
 */
export function parseRelayMessage(text: string): RelayMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const type = (value as { type?: unknown }).type;
  switch (type) {
    case 'ready':
    case 'live':
    case 'stats':
    case 'error':
    case 'ended':
      return value as RelayMessage;
    default:
      return undefined;
  }
}
