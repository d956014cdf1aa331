/**
 * Drop-in browser client for the transwrap relay; it speaks the protocol of docs/protocol.md
 * (docs/embedding.md shows how to use it).
 *
 * ```ts
 * import { startBroadcast } from './broadcast-client.js';
 * const b = startBroadcast({ relayUrl: ['wss://a:8443', 'wss://b:8443'], token, ingest, streamKey, stream });
 * b.on('live', () => console.log('on air'));
 * b.on('error', (e) => console.error(e.code, e.message));
 * await b.stop();
 * ```
 *
 * A broadcast is a run of connection legs (connection-leg.ts): one per relay tried, and one per
 * bitrate restart (MediaRecorder only: WebCodecs follows the uplink in place). This file keeps what
 * outlives a leg: the failover order, the bitrate, the public state and events.
 *
 * Browser code only: no framework, no Node/Bun APIs.
 */

import { defaultBufferPolicy } from './backpressure.js';
import { BitrateController } from './bitrate-controller.js';
import type { Broadcast, BroadcastErrorCode, BroadcastEventMap, BroadcastOptions, BroadcastState } from './broadcast-types.js';
import { planCapture, type CapturePlan, type CaptureRefusal, type CaptureRequest } from './capture.js';
import { ConnectionLeg, type LegEvents } from './connection-leg.js';
import type { LegOutcome } from './leg-outcome.js';
import { announcedMimeType } from './mime-types.js';
import type { Recorder } from './recorder.js';
import { toStreamUrls } from './relay-urls.js';
import { audioNeedsAudioContext, loadMediabunny } from './webcodecs-recorder.js';

export type { BitrateReport } from './bitrate-controller.js';
export type { CapturePath } from './capture.js';
export type { PreferredCodec } from './mime-types.js';
export type { RelayErrorCode } from './protocol.js';
export type {
  Broadcast,
  BroadcastErrorCode,
  BroadcastEventMap,
  BroadcastOptions,
  BroadcastState,
  BroadcastStats,
} from './broadcast-types.js';

/**
 * Starts a broadcast: chooses the capture path (WebCodecs or MediaRecorder), connects to the
 * first relay, sends the start message (with the mimeType the constructed recorder reports) and
 * starts that recorder once the relay answers `ready`. Returns at once; progress arrives as
 * events (listeners added right after the call see every event, `connecting` included).
 */
export function startBroadcast(options: BroadcastOptions): Broadcast {
  return new BroadcastSession(options);
}

/** The options that decide how a broadcast records: what {@link prepareBroadcast} takes. */
type CaptureOptionName = 'stream' | 'capture' | 'preferCodec' | 'mimeType' | 'videoBitsPerSecond' | 'audioBitsPerSecond' | 'keyFrameIntervalMs' | 'loadMuxer' | 'captureStartTimeoutMs';
export type CaptureOptions = Pick<BroadcastOptions, CaptureOptionName>;

/** Plans made ahead by prepareBroadcast, per stream: the request they answer, and the answer. */
const prepared = new WeakMap<MediaStream, { readonly request: CaptureRequest; readonly plan: Promise<CapturePlan | CaptureRefusal> }>();

/**
 * Does ahead what a broadcast would do first, so that "Go live" only has to connect: the capture
 * path's checks (the encoders' `isConfigSupported`, loading the muxer, a trial WebCodecs recording
 * that is thrown away). Call it once the camera is open, and again when an option below changes; a
 * `startBroadcast` with the same stream and options then uses the result. Where the WebCodecs audio
 * capture needs an `AudioContext` (Firefox, Safari), which starts only after a click, only the muxer
 * is loaded ahead: the trial waits for the click. Never rejects; a broadcast whose options differ
 * plans afresh.
 */
export function prepareBroadcast(options: CaptureOptions): void {
  const request = captureRequest(options);
  const wantsWebCodecs = request.capture !== 'mediarecorder' && request.preferCodec !== 'vp8' && request.mimeType === undefined;
  if (wantsWebCodecs && audioNeedsAudioContext()) {
    // Cached by the loader: the click's own plan finds it loaded.
    if (!request.loadMuxer) void loadMediabunny().catch(() => undefined);
    return;
  }
  const known = prepared.get(request.stream);
  if (known && sameRequest(known.request, request)) return;
  prepared.set(request.stream, { request, plan: planCapture(request) });
}

/** A plan made ahead for exactly this request, if it is still good: planned, no fallback, its tracks live. */
async function preparedPlan(request: CaptureRequest): Promise<CapturePlan | undefined> {
  const known = prepared.get(request.stream);
  if (!known || !sameRequest(known.request, request)) return undefined;
  const plan = await known.plan;
  // A refusal or a fallback may have had a reason that a click removes (an AudioContext): planned again.
  if ('error' in plan || plan.fallback !== undefined) return undefined;
  if (request.stream.getTracks().some((t) => t.readyState === 'ended')) return undefined;
  return plan;
}

function captureRequest(options: CaptureOptions): CaptureRequest {
  return {
    capture: options.capture ?? 'auto',
    preferCodec: options.preferCodec ?? 'auto',
    mimeType: options.mimeType,
    stream: options.stream,
    videoBitsPerSecond: options.videoBitsPerSecond ?? DEFAULT_VIDEO_BPS,
    audioBitsPerSecond: options.audioBitsPerSecond ?? DEFAULT_AUDIO_BPS,
    keyFrameIntervalMs: options.keyFrameIntervalMs ?? 2000,
    loadMuxer: options.loadMuxer,
    startTimeoutMs: options.captureStartTimeoutMs ?? DEFAULT_CAPTURE_START_TIMEOUT_MS,
  };
}

function sameRequest(a: CaptureRequest, b: CaptureRequest): boolean {
  return a.stream === b.stream && a.capture === b.capture && a.preferCodec === b.preferCodec && a.mimeType === b.mimeType
    && a.videoBitsPerSecond === b.videoBitsPerSecond && a.audioBitsPerSecond === b.audioBitsPerSecond
    && a.keyFrameIntervalMs === b.keyFrameIntervalMs && a.loadMuxer === b.loadMuxer && a.startTimeoutMs === b.startTimeoutMs;
}

const DEFAULT_VIDEO_BPS = 2_500_000;
const DEFAULT_MIN_VIDEO_BPS = 500_000;
const DEFAULT_AUDIO_BPS = 128_000;
const MAX_TIMESLICE_MS = 250;
const FAILOVER_PAUSE_MS = 500;
const DEFAULT_CAPTURE_START_TIMEOUT_MS = 10_000;
/**
 * The most a started recording may take to deliver its first chunk: half the relay's default
 * RELAY_MEDIA_TIMEOUT_MS (10 s), so that the client's own, specific error comes before the relay's.
 * A working recorder delivers within a timeslice (at most 250 ms), or at once (WebCodecs' header).
 */
const FIRST_CHUNK_MS = 5000;
/** What a token function that did not answer within connectTimeoutMs stands for. */
const LATE = Symbol('late');

class BroadcastSession extends EventTarget implements Broadcast {
  readonly done: Promise<BroadcastEventMap['ended']>;
  private resolveDone!: (detail: BroadcastEventMap['ended']) => void;
  private readonly urls: string[];
  private readonly timesliceMs: number;
  private currentState: BroadcastState = 'connecting';
  /** The mimeType announced to the relay (what the recorder reports, when it says more). */
  private currentMime: string | undefined;
  private currentPipeline: 'copy' | 'transcode' | undefined;
  private currentCapture: 'webcodecs' | 'mediarecorder' | undefined;
  private currentFallback: string | undefined;
  private currentUrl: string | undefined;
  /** The target now: lowered by adaptation, never above maxVideoBps. */
  private videoBps: number;
  /** The configured bitrate: the start and the most adaptation goes back up to. */
  private readonly maxVideoBps: number;
  private readonly minVideoBps: number;
  /** The connection in use, from its socket's creation until it settles. */
  private leg: ConnectionLeg | undefined;
  private stopRequested = false;

  constructor(private readonly options: BroadcastOptions) {
    super();
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.urls = toStreamUrls(options.relayUrl);
    if (this.urls.length === 0) throw new TypeError('startBroadcast: relayUrl is empty');
    this.maxVideoBps = options.videoBitsPerSecond ?? DEFAULT_VIDEO_BPS;
    this.videoBps = this.maxVideoBps;
    if (options.minVideoBitsPerSecond !== undefined && !(options.minVideoBitsPerSecond > 0 && options.minVideoBitsPerSecond <= this.maxVideoBps)) {
      throw new TypeError(`startBroadcast: minVideoBitsPerSecond (${options.minVideoBitsPerSecond}) must be above 0 and at most videoBitsPerSecond (${this.maxVideoBps})`);
    }
    // A configured bitrate under the default minimum is its own minimum: nothing to adapt.
    this.minVideoBps = options.minVideoBitsPerSecond ?? Math.min(DEFAULT_MIN_VIDEO_BPS, this.maxVideoBps);
    this.timesliceMs = Math.min(Math.max(options.timesliceMs ?? 200, 20), MAX_TIMESLICE_MS);
    // Deferred so that listeners attached right after startBroadcast() returns see `connecting`.
    queueMicrotask(() => void this.run());
  }

  private get captureStartTimeoutMs(): number {
    return this.options.captureStartTimeoutMs ?? DEFAULT_CAPTURE_START_TIMEOUT_MS;
  }

  get bufferedAmount(): number {
    return this.leg?.bufferedAmount ?? 0;
  }
  get state(): BroadcastState {
    return this.currentState;
  }
  get mimeType(): string | undefined {
    return this.currentMime;
  }
  get capture(): 'webcodecs' | 'mediarecorder' | undefined {
    return this.currentCapture;
  }
  get captureFallback(): string | undefined {
    return this.currentFallback;
  }
  get pipeline(): 'copy' | 'transcode' | undefined {
    return this.currentPipeline;
  }
  get relayUrl(): string | undefined {
    return this.currentUrl;
  }
  get videoBitsPerSecond(): number {
    return this.videoBps;
  }

  on<K extends keyof BroadcastEventMap>(type: K, listener: (detail: BroadcastEventMap[K]) => void): () => void {
    const wrapped = (event: Event) => listener((event as CustomEvent<BroadcastEventMap[K]>).detail);
    this.addEventListener(type, wrapped);
    return () => this.removeEventListener(type, wrapped);
  }

  async stop(): Promise<void> {
    if (this.currentState !== 'ended' && this.currentState !== 'failed') {
      this.stopRequested = true;
      this.currentState = 'stopping';
      this.leg?.stop();
    }
    await this.done;
  }

  private emit<K extends keyof BroadcastEventMap>(type: K, detail: BroadcastEventMap[K]): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** Moves to `ready` or `live`, unless stop() was called: then the state stays `stopping`. */
  private advance(state: 'ready' | 'live' | 'reconnecting'): void {
    if (!this.stopRequested) this.currentState = state;
  }

  /** The failover loop: one leg per connection, until stopped or out of relays. */
  private async run(): Promise<void> {
    // How every leg records: planned ahead by prepareBroadcast, or now.
    const request = captureRequest(this.options);
    const plan = (await preparedPlan(request)) ?? (await planCapture(request));
    if ('error' in plan) return this.fail({ code: plan.code, message: plan.error });
    if (this.stopRequested) return this.finish();
    this.currentCapture = plan.path;
    this.currentFallback = plan.fallback;
    let index = 0;
    // Relays tried since the last session went live: each address gets one chance per outage.
    let triesSinceLive = 0;
    let attempt = 0;
    let reason: BroadcastEventMap['connecting']['reason'] = 'start';
    let previousCode: BroadcastErrorCode | undefined;
    for (;;) {
      if (this.stopRequested) return this.finish();
      attempt += 1;
      triesSinceLive += 1;
      this.currentUrl = this.urls[index];
      this.currentState = 'connecting';
      this.emit('connecting', { relayUrl: this.currentUrl, attempt, reason, previousCode });
      const outcome = await this.runLeg(this.currentUrl, plan, () => (triesSinceLive = 0));
      if (outcome.kind === 'stopped' || this.stopRequested) return this.finish();
      if (outcome.kind === 'reduce') {
        reason = 'bitrate';
        triesSinceLive = 0;
        continue;
      }
      if (outcome.failover && triesSinceLive < this.urls.length) {
        index = (index + 1) % this.urls.length;
        reason = 'failover';
        previousCode = outcome.code;
        // A short pause: the ingest gets to notice the previous publisher is gone (some refuse a
        // second publisher of the same key), and a flapping relay is not hammered.
        await new Promise((resolve) => setTimeout(resolve, FAILOVER_PAUSE_MS));
        continue;
      }
      return this.fail({ code: outcome.code, message: outcome.message, closeCode: outcome.closeCode, relayUrl: this.currentUrl });
    }
  }

  private finish(): void {
    this.currentState = 'ended';
    const detail = { reason: 'stopped' } as const;
    this.emit('ended', detail);
    this.resolveDone(detail);
  }

  private fail(error: BroadcastEventMap['error']): void {
    this.currentState = 'failed';
    this.emit('error', error);
    const detail = { reason: 'error', code: error.code } as const;
    this.emit('ended', detail);
    this.resolveDone(detail);
  }

  /** Gets a token and a recorder, then runs one connection leg to its end. Never rejects. */
  private async runLeg(url: string, plan: CapturePlan, onLive: () => void): Promise<LegOutcome> {
    const limitMs = this.options.connectTimeoutMs ?? 10_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let token: string | typeof LATE;
    try {
      const t = this.options.token ?? '';
      // An app's token function that never settles must not hold the broadcast for ever.
      const late = new Promise<typeof LATE>((resolve) => (timer = setTimeout(() => resolve(LATE), limitMs)));
      token = typeof t === 'function' ? await Promise.race([Promise.resolve(t()), late]) : t;
    } catch {
      return { kind: 'failed', code: 'TOKEN_FAILED', message: 'Could not get a relay token.', failover: false };
    } finally {
      clearTimeout(timer);
    }
    if (token === LATE) return { kind: 'failed', code: 'TOKEN_FAILED', message: `The token function gave no token within ${limitMs / 1000} s.`, failover: false };
    if (this.stopRequested) return { kind: 'stopped' };
    // The recorder is made (not started) before the start message, so that the message carries
    // what the recorder reports (docs/protocol.md#start-message). It starts only after `ready`.
    let recorder: Recorder;
    try {
      recorder = plan.createRecorder(this.videoBps);
    } catch (e) {
      return { kind: 'failed', code: 'NO_SUPPORTED_MIME_TYPE', message: `The recorder refused ${plan.mimeType}: ${String(e)}`, failover: false };
    }
    const mimeType = announcedMimeType(plan.mimeType, recorder.mimeType);
    this.currentMime = mimeType;
    const { ingest, streamKey, destinations } = this.options;
    const audioBps = this.options.audioBitsPerSecond ?? DEFAULT_AUDIO_BPS;
    // Every leg measures the uplink and reports it; a recorder that can change its bitrate while
    // recording (WebCodecs) follows it in place, MediaRecorder restarts instead (congested()).
    const bitrate = new BitrateController({
      maxVideoBitsPerSecond: this.maxVideoBps,
      minVideoBitsPerSecond: this.minVideoBps,
      startVideoBitsPerSecond: this.videoBps,
      audioBitsPerSecond: audioBps,
      inPlace: (this.options.adaptBitrate ?? true) && typeof recorder.setVideoBitrate === 'function',
    });
    this.leg = new ConnectionLeg(
      {
        url,
        // The leg starts a new recording when the relay asks, after an ingest failure.
        start: { type: 'start', token, ingest, streamKey, mimeType, reconnect: true, ...(destinations?.length ? { destinations } : {}) },
        recorder,
        timesliceMs: this.timesliceMs,
        connectTimeoutMs: this.options.connectTimeoutMs ?? 10_000,
        stopTimeoutMs: this.options.stopTimeoutMs ?? 10_000,
        firstChunkTimeoutMs: Math.min(this.captureStartTimeoutMs, FIRST_CHUNK_MS),
        bufferPolicy: defaultBufferPolicy(this.videoBps + audioBps),
        bitrate,
      },
      this.legEvents(url, mimeType, plan.path, onLive),
    );
    const outcome = await this.leg.outcome;
    this.leg = undefined;
    return outcome;
  }

  /** What a leg's progress means for the broadcast: its state, its events, its bitrate. */
  private legEvents(relayUrl: string, mimeType: string, capture: CapturePlan['path'], onLive: () => void): LegEvents {
    return {
      ready: ({ session, pipeline }) => {
        this.currentPipeline = pipeline;
        this.advance('ready');
        const fallback = this.currentFallback ? { captureFallback: this.currentFallback } : {};
        this.emit('ready', { relayUrl, session, pipeline, mimeType, capture, ...fallback, videoBitsPerSecond: this.videoBps });
      },
      live: (session) => {
        this.advance('live');
        onLive();
        this.emit('live', { relayUrl, session });
      },
      reconnecting: ({ attempt, code, message, retryInMs }) => {
        this.advance('reconnecting');
        this.emit('reconnecting', { relayUrl, attempt, code, message, retryInMs });
      },
      stats: ({ bitrateKbps, fps, speed, droppedFrames, bufferedBytes, reconnects, downMs, destinations }, bufferedAmount) => {
        this.emit('stats', {
          bitrateKbps,
          fps,
          speed,
          droppedFrames,
          bufferedBytes,
          reconnects,
          downMs,
          bufferedAmount,
          videoBitsPerSecond: this.videoBps,
          ...(destinations ? { destinations } : {}),
        });
      },
      congested: (verdict, bufferedAmount) => this.congested(verdict, bufferedAmount),
      bitrate: (report) => {
        this.videoBps = report.videoBitsPerSecond;
        this.emit('bitrate', report);
      },
    };
  }

  /**
   * MediaRecorder's answer to a lasting backlog: a restart at a lower bitrate when adaptBitrate
   * allows (true: restart the leg); a warning otherwise, and for a backlog on any path.
   */
  private congested(verdict: 'warn' | 'reduce', bufferedAmount: number): boolean {
    const floor = this.minVideoBps;
    if (verdict === 'reduce' && (this.options.adaptBitrate ?? true) && this.videoBps > floor) {
      this.videoBps = Math.max(floor, Math.round(this.videoBps * 0.6));
      this.emit('warning', {
        code: 'BITRATE_LOWERED',
        message: `The upload cannot keep up; restarting at ${Math.round(this.videoBps / 1000)} kbps.`,
        bufferedAmount,
        videoBitsPerSecond: this.videoBps,
      });
      return true;
    }
    this.emit('warning', {
      code: 'CONGESTED',
      message: `The upload is slower than the video: ${Math.round(bufferedAmount / 1024)} KiB waiting to be sent.`,
      bufferedAmount,
      videoBitsPerSecond: this.videoBps,
    });
    return false;
  }
}
