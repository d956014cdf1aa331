/**
 * The relay protocol (docs/protocol.md): its paths, message shapes and close codes, defined once.
 * The relay imports this file too, and the construct's copies of the paths are held to it by
 * relay/test/unit/contract-parity.test.ts. Types, constants and one parser only: it runs in browsers.
 */

/** Path of the relay's WebSocket endpoint (docs/protocol.md#endpoint). */
export const STREAM_PATH = '/v1/stream';

/** Path of the relay's health document (docs/protocol.md#http-routes). */
export const HEALTH_PATH = '/healthz';

/**
 * The first (and only) text frame the client sends to open a session: the one type for both sides
 * (the browser client builds it, the relay's parser in relay/src/protocol.ts returns it).
 */
export interface StartMessage {
  readonly type: 'start';
  /**
   * A signed JWT. Its absence (or `null`, or `""`) is an auth failure (4001), not a bad request;
   * only a relay with `RELAY_AUTH=none` needs none. The relay's parser leaves it out when empty.
   */
  readonly token?: string;
  readonly ingest: string;
  readonly streamKey: string;
  readonly mimeType: string;
  /**
   * The client can start a new recording on this connection when the relay asks (a second `ready`
   * after `reconnecting`, docs/protocol.md#reconnecting). Without it an output failure ends the
   * session at once, as it always did. @default false
   */
  readonly reconnect?: boolean;
  /**
   * More destinations for the same broadcast, each its own ingest and key: the relay encodes once
   * and publishes to all (docs/protocol.md#several-destinations). @default none
   */
  readonly destinations?: readonly Destination[];
}

/** A further destination of a broadcast. */
export interface Destination {
  readonly ingest: string;
  readonly streamKey: string;
}

/** One destination's state in `stats`. */
export interface DestinationStatus {
  /** The ingest's `scheme://host:port`; never its key. */
  readonly ingest: string;
  readonly state: 'connecting' | 'live' | 'reconnecting' | 'failed' | 'ended';
  /** Times this destination's output failed after it had been live. */
  readonly reconnects: number;
  /** Milliseconds it has not been live since it first was. */
  readonly downMs: number;
}

/** Asks the relay to flush FFmpeg and end the session with 1000. */
export interface StopMessage {
  readonly type: 'stop';
}

/** Sent after a second (or later) `ready`, right before the first chunk of the new recording. */
export interface ResumeMessage {
  readonly type: 'resume';
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

/**
 * The output failed after the session had been live; the relay tries again in `retryInMs`, then
 * sends `ready` for a new recording (only to clients that asked with `reconnect: true`).
 */
export interface ReconnectingMessage {
  readonly type: 'reconnecting';
  /** 1 for the first try after a failure, counting up until the session is live again. */
  readonly attempt: number;
  /** What failed, as an `error` frame's `code` would say: `INGEST_FAILED` or `INTERNAL`. */
  readonly code: RelayErrorCode;
  readonly message: string;
  readonly retryInMs: number;
}

/** Progress the relay parses from FFmpeg, about every 2 s. */
export interface StatsMessage {
  readonly type: 'stats';
  readonly bitrateKbps: number;
  readonly fps: number;
  readonly speed: number;
  readonly droppedFrames: number;
  readonly bufferedBytes: number;
  /** Bytes of every binary frame the relay has received on this connection so far, dropped or not. */
  readonly receivedBytes: number;
  /** Times the output failed and the session reconnected (or is reconnecting). */
  readonly reconnects: number;
  /** Milliseconds the session has not been live since it first was: every outage, the current one included. */
  readonly downMs: number;
  /** Each destination, in the start message's order, for a session with several (while it has an encoder running). */
  readonly destinations?: readonly DestinationStatus[];
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
export type RelayMessage = ReadyMessage | LiveMessage | ReconnectingMessage | StatsMessage | ErrorMessage | EndedMessage;

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
    case 'reconnecting':
    case 'stats':
    case 'error':
    case 'ended':
      return value as RelayMessage;
    default:
      return undefined;
  }
}
