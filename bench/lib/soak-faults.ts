/** The faults the soak injects. */
export type FaultKind =
  | 'kill-ffmpeg' // SIGKILL the session's FFmpeg
  | 'rtmp-restart' // kill and restart the RTMP server the session publishes to
  | 'abrupt-disconnect' // the client process is SIGKILLed: no close frame, the TCP connection just drops
  | 'garbage-text' // a text frame that is not JSON, mid-stream
  | 'garbage-media' // random bytes instead of media from the first chunk
  | 'oversized-frame' // a binary frame over RELAY_MAX_MESSAGE_BYTES, mid-stream
  | 'frozen-client'; // the client process is SIGSTOPped: it stops reading (and sending) until thawed

/** Faults decided when a session starts (the others hit sessions already streaming). */
export const PLANNED: ReadonlySet<FaultKind> = new Set(['abrupt-disconnect', 'garbage-text', 'garbage-media', 'oversized-frame', 'frozen-client']);

/** Every kind, in the order the soak cycles through them. */
export const FAULT_CYCLE: readonly FaultKind[] = [
  'kill-ffmpeg', 'garbage-text', 'rtmp-restart', 'abrupt-disconnect', 'oversized-frame', 'frozen-client', 'garbage-media',
];

/**
 * The close each fault must end with (docs/protocol.md#close-codes). For an abrupt disconnect the client is gone,
 * so it is the code the relay logged for the connection: 1006, closed without a close frame.
 */
export const EXPECTED: Record<FaultKind, { closeCode: number; code?: string }> = {
  'kill-ffmpeg': { closeCode: 1011, code: 'INTERNAL' },
  'rtmp-restart': { closeCode: 4502, code: 'INGEST_FAILED' },
  'abrupt-disconnect': { closeCode: 1006 },
  'garbage-text': { closeCode: 4000, code: 'BAD_REQUEST' },
  'garbage-media': { closeCode: 4415, code: 'UNSUPPORTED_MEDIA' },
  'oversized-frame': { closeCode: 1009, code: 'MESSAGE_TOO_BIG' },
  'frozen-client': { closeCode: 4408, code: 'MEDIA_TIMEOUT' },
};

/** One session of the soak, as it went. */
export interface SessionRecord {
  key: string;
  slot: number;
  server: 'main' | 'flaky';
  fault?: FaultKind;
  /** The relay's session id, from `ready`. */
  session?: string;
  state: 'connecting' | 'streaming' | 'done';
  /** When the client will send `stop` (performance.now ms), known from `ready`. */
  stopDueAt?: number;
  gotLive: boolean;
  ended: boolean;
  closeCode?: number;
  /** Who reported `closeCode`: the client's close event, or the relay's log (when the client could not see it). */
  closeSeenBy?: 'client' | 'relay log';
  errorCode?: string;
  /** ffprobe verdict on the recording: undefined until checked, or when not checked. */
  recording?: { ok: boolean; detail: string };
  /** Anything else that went wrong (e.g. an FFmpeg not reaped). */
  problems: string[];
  /** Seconds since the soak began: when the session started and when it was over. */
  startS: number;
  endS?: number;
  /** What the relay logged about how the session failed, when it did (for diagnosis). */
  relaySaid?: string;
}

/** Whether a session ended as it should have; a reason when it did not. */
export function judgeSession(r: SessionRecord): string | undefined {
  const seen = `close ${r.closeCode ?? 'none'}${r.errorCode ? ` ${r.errorCode}` : ''}`;
  const name = `${r.key} (${r.fault ?? 'no fault'}, ${r.server}, t=${r.startS}–${r.endS ?? '?'} s${r.relaySaid ? `, relay: ${r.relaySaid}` : ''})`;
  if (r.problems.length > 0) return `${name}: ${r.problems.join('; ')}`;
  if (!r.fault) {
    if (r.closeCode !== 1000 || !r.ended || !r.gotLive) return `${name}: expected live, ended, close 1000; got ${seen}${r.gotLive ? '' : ', never live'}`;
    if (!r.recording?.ok) return `${name}: recording not valid: ${r.recording?.detail ?? 'not checked'}`;
    return undefined;
  }
  const want = EXPECTED[r.fault];
  if (r.closeCode !== want.closeCode || (want.code !== undefined && r.errorCode !== want.code)) {
    return `${name}: expected close ${want.closeCode}${want.code ? ` ${want.code}` : ''}, got ${seen}`;
  }
  if (r.fault === 'abrupt-disconnect' && !r.recording?.ok) return `${name}: what was sent did not make a valid recording: ${r.recording?.detail ?? 'not checked'}`;
  return undefined;
}
