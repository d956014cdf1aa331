/**
 * What to tell a person for each error code: the relay's (docs/protocol.md#close-codes) and the
 * client's own.
 * Kept apart from the client so that an embedding app can reuse or replace the wording.
 */

import type { BroadcastErrorCode } from './broadcast-types.js';

/** A message for people: what happened and what to do about it. */
export interface ErrorAdvice {
  readonly title: string;
  readonly action: string;
}

const ADVICE: Readonly<Record<BroadcastErrorCode, ErrorAdvice>> = {
  MESSAGE_TOO_BIG: {
    title: 'The relay refused a message that was too large.',
    action: 'A media chunk: lower the bitrate or the timeslice and try again. The start message: use a shorter token (at most 16 KiB in all).',
  },
  BAD_REQUEST: {
    title: 'The relay refused the start message.',
    action: 'Check the stream key (no "/", no ".flv" or ".mp4" ending), then reload the page: it and the relay may be different versions.',
  },
  UNAUTHORIZED: {
    title: 'The relay refused the token (missing, invalid or expired).',
    action: 'Get a fresh token from your application and try again.',
  },
  DESTINATION_FORBIDDEN: {
    title: 'This relay is not allowed to publish to that ingest URL.',
    action: 'Check the ingest URL (rtmp:// or rtmps://, right host and port) or ask the operator to add it to RELAY_ALLOWED_INGESTS.',
  },
  UNAVAILABLE: {
    title: 'Every relay is at capacity or shutting down.',
    action: 'Wait a moment and try again, or add another relay address.',
  },
  MEDIA_TIMEOUT: {
    title: 'The relay stopped receiving video from this browser.',
    action: 'Keep this tab in the foreground and check the camera, then start again.',
  },
  UNSUPPORTED_MEDIA: {
    title: 'The relay could not read the video this browser records.',
    action: 'Choose another codec (e.g. VP8) or another browser.',
  },
  INGEST_FAILED: {
    title: 'The relay could not publish to the ingest (connection refused, dropped, or stream key rejected).',
    action: 'Check the ingest URL and the stream key, and that the channel is not already live from elsewhere.',
  },
  INTERNAL: {
    title: 'The relay failed unexpectedly.',
    action: 'Try again; if it persists, the relay logs name the session.',
  },
  CONNECTION_FAILED: {
    title: 'Could not connect to the relay.',
    action: 'Check the relay address and that the relay is running. A wss:// relay with a self-signed certificate also fails this way until its certificate is accepted.',
  },
  CONNECTION_LOST: {
    title: 'The connection to the relay dropped and no other relay took over.',
    action: 'Check the network and start again.',
  },
  NO_SUPPORTED_MIME_TYPE: {
    title: 'This browser cannot record video in a format the relay accepts.',
    action: 'Choose "Automatic" codec, or use a current Chrome, Edge, Firefox or Safari.',
  },
  RECORDER_FAILED: {
    title: 'The browser stopped recording.',
    action: 'Check that the camera and microphone are still connected and not used by another app.',
  },
  CAPTURE_FAILED: {
    title: 'The browser could not start recording.',
    action: 'If the audio did not start: connect speakers or headphones (the browser needs an audio output), then press Go live again. Otherwise choose Capture: MediaRecorder, or another browser.',
  },
  CONGESTED: {
    title: 'The upload is too slow for the video, even at the lowest bitrate.',
    action: 'Use a faster network or a lower resolution.',
  },
  TOKEN_FAILED: {
    title: 'Could not get a token for the relay.',
    action: 'Sign in again, then retry.',
  },
};

/** Advice for a code; unknown codes (a newer relay) get a generic message. */
export function describeError(code: string): ErrorAdvice {
  return ADVICE[code as BroadcastErrorCode] ?? { title: `The broadcast failed (${code}).`, action: 'Try again.' };
}
