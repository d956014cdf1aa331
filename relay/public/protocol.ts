/**
 * Contract 1 — the relay protocol, as the browser sees it (see DESIGN.md).
 * Types only plus one parser: this file is the single place the client knows message shapes.
 */

/** Path of the relay's WebSocket endpoint. */
export const STREAM_PATH = '/v1/stream';

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

/** The `code` strings of Contract 1's close table. */
export type RelayErrorCode =
  | 'MESSAGE_TOO_BIG'
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'DESTINATION_FORBIDDEN'
  | 'UNAVAILABLE'
  | 'MEDIA_TIMEOUT'
  | 'UNSUPPORTED_MEDIA'
  | 'INGEST_FAILED'
  | 'INTERNAL';

/** Close code → `code` string, exactly as Contract 1's table. */
export const CLOSE_CODES: Readonly<Record<number, RelayErrorCode>> = {
  1009: 'MESSAGE_TOO_BIG',
  4000: 'BAD_REQUEST',
  4001: 'UNAUTHORIZED',
  4003: 'DESTINATION_FORBIDDEN',
  4013: 'UNAVAILABLE',
  4408: 'MEDIA_TIMEOUT',
  4415: 'UNSUPPORTED_MEDIA',
  4502: 'INGEST_FAILED',
  1011: 'INTERNAL',
};

/** The close code that tells a client to try another relay. */
export const CLOSE_UNAVAILABLE = 4013;

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
