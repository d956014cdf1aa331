/**
 * The public types of the broadcast client: options, events, the returned object.
 * Kept apart from the behaviour (broadcast-client.ts) so that the API reads in one place.
 */

import type { BitrateReport } from './bitrate-controller.js';
import type { CapturePath } from './capture.js';
import type { PreferredCodec } from './mime-types.js';
import type { Destination, RelayErrorCode, StatsMessage } from './protocol.js';
import type { MediabunnyModule } from './webcodecs-recorder.js';

/** Options of `startBroadcast`. */
export interface BroadcastOptions {
  /**
   * The relay's address, or several in failover order: `wss://host:8443`, `https://host:8443`
   * or the full `wss://host:8443/v1/stream`. On a 4013 (relay full or draining) or a dropped
   * connection the client moves on to the next one.
   */
  readonly relayUrl: string | readonly string[];
  /**
   * The relay token (a JWT from your backend), or a function returning one. A function is
   * called for every connection attempt, so a failover never reuses an expired token.
   * @default '' (only accepted by a loopback relay running with RELAY_AUTH=none)
   */
  readonly token?: string | (() => string | Promise<string>);
  /** RTMP(S) ingest URL, e.g. `rtmps://<id>.global-contribute.live-video.net:443/app/`. */
  readonly ingest: string;
  /** The ingest's stream key. Sent only inside the start message, never logged. */
  readonly streamKey: string;
  /**
   * More destinations for the same broadcast, each its own ingest and key: the relay encodes once
   * and publishes to all, each failing and reconnecting on its own (docs/protocol.md#several-destinations).
   * `stats` then carries each one's state. @default none
   */
  readonly destinations?: readonly Destination[];
  /** Camera and microphone, e.g. from `getUserMedia`. The client never stops its tracks. */
  readonly stream: MediaStream;
  /**
   * Video bitrate: where the broadcast starts, and the most it goes back up to after adapting to a
   * slower uplink (`adaptBitrate`). @default 2_500_000
   */
  readonly videoBitsPerSecond?: number;
  /** Target audio bitrate. @default 128_000 */
  readonly audioBitsPerSecond?: number;
  /**
   * How the browser records (docs/embedding.md#capture-paths). `'webcodecs'`: the browser's
   * `VideoEncoder` and `AudioEncoder` (H.264 with a key frame every `keyFrameIntervalMs`, constant
   * bitrate; AAC where the browser has it, else Opus), muxed by mediabunny, which the relay serves
   * at `vendor/mediabunny.js` beside this file. `'mediarecorder'`: `MediaRecorder`. `'auto'` takes
   * WebCodecs when the browser has it, unless only MediaRecorder records AAC; else MediaRecorder.
   * @default 'auto'
   */
  readonly capture?: CapturePath;
  /**
   * Loads mediabunny for the WebCodecs path. A bundled app passes `() => import('mediabunny')`
   * (after `npm i mediabunny`); without it the client loads `vendor/mediabunny.js` from beside its
   * own module, which only the relay serves. If loading fails, `'auto'` records with MediaRecorder.
   * @default loads `./vendor/mediabunny.js` relative to the client module
   */
  readonly loadMuxer?: () => Promise<MediabunnyModule>;
  /**
   * Codec family: `'auto'` picks H.264 (Matroska/WebM, then Safari MP4) and falls back to VP8;
   * `'vp8'` forces VP8 (the relay then transcodes); `'h264'` refuses to fall back.
   * @default 'auto'
   */
  readonly preferCodec?: PreferredCodec;
  /**
   * An exact MediaRecorder mimeType; wins over `preferCodec`. Name the codecs
   * (`video/webm;codecs=vp8,opus`): the relay picks its pipeline from this string, and a bare
   * container makes it guess.
   */
  readonly mimeType?: string;
  /**
   * MediaRecorder timeslice in ms, at most 250 (short slices keep latency and bursts small). The
   * WebCodecs recorder needs none: each group of frames leaves as soon as it is muxed. @default 200
   */
  readonly timesliceMs?: number;
  /** Keyframe interval asked of the encoder (IVS wants an IDR at least every 2 s). @default 2000 */
  readonly keyFrameIntervalMs?: number;
  /**
   * Follow the uplink (docs/embedding.md#slow-uplinks). WebCodecs: the encoder's bitrate follows
   * what the socket drains, in place (one recording, one publish), between `minVideoBitsPerSecond`
   * and `videoBitsPerSecond`, back up when the link recovers; `CONGESTED` once the link carries less
   * than the minimum needs for 10 s. MediaRecorder cannot change its bitrate: it restarts the
   * session at 60 % of it (down to `minVideoBitsPerSecond`). With false the client only warns
   * (and still ends with `CONGESTED` before memory grows without bound). @default true
   */
  readonly adaptBitrate?: boolean;
  /**
   * The lowest video bitrate `adaptBitrate` goes down to; at most `videoBitsPerSecond`.
   * @default 500_000 (or `videoBitsPerSecond`, when that is lower)
   */
  readonly minVideoBitsPerSecond?: number;
  /**
   * The bound on each wait for the browser while starting to record: the format check, the WebCodecs
   * muxer's load and a WebCodecs recording's start (encoder, audio capture, muxer: tried before
   * connecting). Past it `'auto'` records with MediaRecorder instead (and says so in
   * `ready.captureFallback`); a forced path fails with `CAPTURE_FAILED`. Once connected, every
   * recording's first chunk is awaited this long, at most 5 s (`CAPTURE_FAILED` past it). @default 10_000
   */
  readonly captureStartTimeoutMs?: number;
  /** How long to wait for the WebSocket to open and for `ready`. @default 10_000 */
  readonly connectTimeoutMs?: number;
  /** How long `stop()` waits for the relay's `ended` before closing anyway. @default 10_000 */
  readonly stopTimeoutMs?: number;
}

/** Error codes of the `error` event: the relay's codes plus the client's own. */
export type BroadcastErrorCode =
  | RelayErrorCode
  /** No relay address could be reached (also: a self-signed certificate not yet accepted). */
  | 'CONNECTION_FAILED'
  /** An open connection dropped without an error frame, and no other relay took over. */
  | 'CONNECTION_LOST'
  /** This browser cannot record any format the relay understands (or the forced mimeType or capture path). */
  | 'NO_SUPPORTED_MIME_TYPE'
  /** The recorder failed (e.g. the camera was unplugged). */
  | 'RECORDER_FAILED'
  /**
   * Recording could not start within `captureStartTimeoutMs`, or the encoder's H.264 header could
   * not be made valid; the message names what (e.g. the audio capture's AudioContext).
   */
  | 'CAPTURE_FAILED'
  /** The upload stayed slower than the lowest bitrate: stopped before memory grew without bound. */
  | 'CONGESTED'
  /** The token function threw or rejected. */
  | 'TOKEN_FAILED';

/** Statistics: the relay's `stats` message plus what the client knows. */
export interface BroadcastStats extends Omit<StatsMessage, 'type' | 'receivedBytes'> {
  /** Bytes queued in this browser's WebSocket, not yet sent. */
  readonly bufferedAmount: number;
  /** The video bitrate the recorder aims at now. */
  readonly videoBitsPerSecond: number;
}

/** Event name → `detail` type. */
export interface BroadcastEventMap {
  /** A WebSocket is being opened. `reason` says why: first attempt, failover, or a lower-bitrate restart. */
  connecting: {
    readonly relayUrl: string;
    readonly attempt: number;
    readonly reason: 'start' | 'failover' | 'bitrate';
    readonly previousCode?: BroadcastErrorCode;
  };
  /** The relay accepted the session; recording starts now. `mimeType` is the one announced in the start message. */
  ready: {
    readonly relayUrl: string;
    readonly session: string;
    readonly pipeline: 'copy' | 'transcode';
    readonly mimeType: string;
    /** The capture path in use. */
    readonly capture: 'webcodecs' | 'mediarecorder';
    /** Present when `auto` wanted WebCodecs and it could not start: why MediaRecorder records instead. */
    readonly captureFallback?: string;
    readonly videoBitsPerSecond: number;
  };
  /** FFmpeg is connected to the ingest and writing. */
  live: { readonly relayUrl: string; readonly session: string };
  /** About every 2 s while live. */
  stats: BroadcastStats;
  /**
   * The relay's output to the ingest failed while live; the relay tries again in `retryInMs` and
   * then asks for a new recording (`ready` again, then `live`). Only the relay's window ends it
   * (docs/protocol.md#reconnecting).
   */
  reconnecting: {
    readonly relayUrl: string;
    readonly attempt: number;
    readonly code: string;
    readonly message: string;
    readonly retryInMs: number;
  };
  /**
   * The target video bitrate, the measured uplink and the browser's backlog: on every change of the
   * target (WebCodecs adapts it in place) and about every second while recording.
   */
  bitrate: BitrateReport;
  /** Congestion: the backlog passed the warning mark, or MediaRecorder restarted at a lower bitrate. */
  warning: {
    readonly code: 'CONGESTED' | 'BITRATE_LOWERED';
    readonly message: string;
    readonly bufferedAmount: number;
    readonly videoBitsPerSecond: number;
  };
  /** The broadcast failed for good (failover already exhausted); `ended` follows. */
  error: {
    readonly code: BroadcastErrorCode;
    readonly message: string;
    readonly closeCode?: number;
    readonly relayUrl?: string;
  };
  /** Emitted exactly once, last. */
  ended: { readonly reason: 'stopped' | 'error'; readonly code?: BroadcastErrorCode };
}

/** Where a broadcast is. */
export type BroadcastState = 'connecting' | 'ready' | 'live' | 'reconnecting' | 'stopping' | 'ended' | 'failed';

/** The object `startBroadcast` returns. */
export interface Broadcast extends EventTarget {
  /** Bytes queued in the current WebSocket (0 when none is open). */
  readonly bufferedAmount: number;
  readonly state: BroadcastState;
  /**
   * The mimeType announced to the relay: what the (not yet started) recorder reports when that
   * names its codecs, else the one asked for. Undefined until the first connection attempt.
   */
  readonly mimeType: string | undefined;
  /** The capture path, once chosen (before the first connection). */
  readonly capture: 'webcodecs' | 'mediarecorder' | undefined;
  /** Why `auto` records with MediaRecorder although it wanted WebCodecs; undefined otherwise. */
  readonly captureFallback: string | undefined;
  /** The relay's pipeline for the current session, once `ready`. */
  readonly pipeline: 'copy' | 'transcode' | undefined;
  /** The endpoint in use (or being tried). */
  readonly relayUrl: string | undefined;
  /** Current video bitrate target (lowered and raised again by `adaptBitrate`). */
  readonly videoBitsPerSecond: number;
  /** Resolves with the `ended` detail. */
  readonly done: Promise<BroadcastEventMap['ended']>;
  /** Subscribes to one event's `detail`; returns the unsubscribe function. */
  on<K extends keyof BroadcastEventMap>(type: K, listener: (detail: BroadcastEventMap[K]) => void): () => void;
  /** Ends the broadcast cleanly: flushes the recorder, asks the relay to flush FFmpeg. Resolves after `ended`. */
  stop(): Promise<void>;
}
