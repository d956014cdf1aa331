// The protocol's constants and the shapes of the relay's messages are defined once, in the file
// the browser loads; this module adds what only the server needs: its error type and its parser.
import { CLOSE_CODES, type Destination, type RelayErrorCode, type RelayMessage, type StartMessage } from '../public/protocol.ts';

export { CLOSE_CODES, HEALTH_PATH, STREAM_PATH, type StartMessage } from '../public/protocol.ts';

/**
 * The largest text frame before `ready` (the start message, or anything sent while it is checked).
 * Room for a long OIDC token; far less than RELAY_MAX_MESSAGE_BYTES, which is sized for media and
 * would otherwise let every unauthenticated connection make the relay parse a megabyte of JSON.
 */
export const START_MESSAGE_MAX_BYTES = 16 * 1024;

/**
 * The 1009 for a frame over its limit, or undefined: RELAY_MAX_MESSAGE_BYTES for any frame, and
 * until `ready` START_MESSAGE_MAX_BYTES for text, which is then only ever a start message.
 */
export function frameTooBig(data: string | Uint8Array, beforeReady: boolean, maxMessageBytes: number): SessionError | undefined {
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
  const limit = typeof data === 'string' && beforeReady ? Math.min(START_MESSAGE_MAX_BYTES, maxMessageBytes) : maxMessageBytes;
  return size > limit ? new SessionError('MESSAGE_TOO_BIG', `frame of ${size} bytes exceeds ${limit}`) : undefined;
}

/** The `code` string of an `error` frame. */
export type ErrorCode = RelayErrorCode;

/** A failure that ends a session: the close code, and a message that is safe to show and log. */
export class SessionError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
  /** The WebSocket close code for this error. */
  get closeCode(): number {
    return CLOSE_CODES[this.code];
  }
}

/** Frames the relay sends. */
export type ServerMessage = RelayMessage;

/** A text frame from the client, parsed. */
export type ClientMessage = StartMessage | { type: 'stop' } | { type: 'resume' } | { type: 'other'; name: string };

/**
 * Parses a client text frame. Field values are never echoed into the error message,
 * because they may hold the token or stream key. A start message comes back with `token` left out
 * when empty, `reconnect` and `destinations` always given (false, none unless the client sent them).
 * @throws SessionError BAD_REQUEST when the frame is not valid JSON or misses required fields
 */
export function parseClientMessage(text: string): ClientMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SessionError('BAD_REQUEST', 'frame is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SessionError('BAD_REQUEST', 'frame is not a JSON object');
  }
  const obj = value as Record<string, unknown>;
  if (typeof obj.type !== 'string') throw new SessionError('BAD_REQUEST', 'missing "type"');
  if (obj.type === 'stop') return { type: 'stop' };
  if (obj.type === 'resume') return { type: 'resume' };
  if (obj.type !== 'start') return { type: 'other', name: obj.type.slice(0, 32) };
  for (const field of ['ingest', 'streamKey', 'mimeType'] as const) {
    if (typeof obj[field] !== 'string' || (obj[field] as string).length === 0) {
      throw new SessionError('BAD_REQUEST', `start message needs a non-empty string "${field}"`);
    }
  }
  if (obj.token !== undefined && obj.token !== null && typeof obj.token !== 'string') {
    throw new SessionError('BAD_REQUEST', '"token" must be a string');
  }
  if (obj.reconnect !== undefined && typeof obj.reconnect !== 'boolean') {
    throw new SessionError('BAD_REQUEST', '"reconnect" must be a boolean');
  }
  const destinations = obj.destinations ?? [];
  const isDestination = (d: unknown) => typeof d === 'object' && d !== null
    && typeof (d as Destination).ingest === 'string' && (d as Destination).ingest.length > 0
    && typeof (d as Destination).streamKey === 'string' && (d as Destination).streamKey.length > 0;
  if (!Array.isArray(destinations) || !destinations.every(isDestination)) {
    throw new SessionError('BAD_REQUEST', '"destinations" must be an array of objects with a non-empty string "ingest" and "streamKey"');
  }
  return {
    type: 'start',
    token: typeof obj.token === 'string' && obj.token.length > 0 ? obj.token : undefined,
    ingest: obj.ingest as string,
    streamKey: obj.streamKey as string,
    mimeType: obj.mimeType as string,
    reconnect: obj.reconnect === true,
    destinations: (destinations as Destination[]).map(({ ingest, streamKey }) => ({ ingest, streamKey })),
  };
}
