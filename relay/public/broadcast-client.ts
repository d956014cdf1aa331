/**
 * Drop-in browser client for the transwrap relay (Contract 1 in DESIGN.md).
 *
 * ```ts
 * import { startBroadcast } from './broadcast-client.js';
 * const b = startBroadcast({ relayUrl: ['wss://a:8443', 'wss://b:8443'], token, ingest, streamKey, stream });
 * b.on('live', () => console.log('on air'));
 * b.on('error', (e) => console.error(e.code, e.message));
 * await b.stop();
 * ```
 *
 * Browser code only: no framework, no Node/Bun APIs.
 */

import { BufferWatch, defaultBufferPolicy } from './backpressure.js';
import type { Broadcast, BroadcastErrorCode, BroadcastEventMap, BroadcastOptions, BroadcastState } from './broadcast-types.js';
import { announcedMimeType, pickMimeType } from './mime-types.js';
import { CLOSE_CODES, errorCodeOfClose, parseRelayMessage, type RelayErrorCode, type StartMessage } from './protocol.js';
import { toStreamUrls } from './relay-urls.js';

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
 * Starts a broadcast: connects to the first relay, sends the start message (with the mimeType
 * the constructed `MediaRecorder` reports) and starts that recorder once the relay answers `ready`. Returns at once; progress arrives as events
 * (listeners added right after the call see every event, `connecting` included).
 */
export function startBroadcast(options: BroadcastOptions): Broadcast {
  return new BroadcastSession(options);
}

/** How one connection (a "leg") ended. */
type LegOutcome =
  | { readonly kind: 'stopped' }
  | { readonly kind: 'reduce' }
  | {
      readonly kind: 'failed';
      readonly code: BroadcastErrorCode;
      readonly message: string;
      readonly closeCode?: number;
      readonly failover: boolean;
    };

const DEFAULT_VIDEO_BPS = 2_500_000;
const DEFAULT_AUDIO_BPS = 128_000;
const MAX_TIMESLICE_MS = 250;
const FAILOVER_PAUSE_MS = 500;

class BroadcastSession extends EventTarget implements Broadcast {
  readonly done: Promise<BroadcastEventMap['ended']>;
  private resolveDone!: (detail: BroadcastEventMap['ended']) => void;
  private readonly urls: string[];
  private readonly timesliceMs: number;
  private currentState: BroadcastState = 'connecting';
  /** The mimeType each leg asks its recorder for. */
  private requestedMime: string | undefined;
  /** The mimeType announced to the relay (what the recorder reports, when it says more). */
  private currentMime: string | undefined;
  private currentPipeline: 'copy' | 'transcode' | undefined;
  private currentUrl: string | undefined;
  private videoBps: number;
  private socket: WebSocket | undefined;
  private stopRequested = false;
  /** Wakes the running leg when stop() is called. */
  private onStopRequested: (() => void) | undefined;

  constructor(private readonly options: BroadcastOptions) {
    super();
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.urls = toStreamUrls(options.relayUrl);
    if (this.urls.length === 0) throw new TypeError('startBroadcast: relayUrl is empty');
    this.videoBps = options.videoBitsPerSecond ?? DEFAULT_VIDEO_BPS;
    this.timesliceMs = Math.min(Math.max(options.timesliceMs ?? 200, 20), MAX_TIMESLICE_MS);
    // Deferred so that listeners attached right after startBroadcast() returns see `connecting`.
    queueMicrotask(() => void this.run());
  }

  get bufferedAmount(): number {
    return this.socket?.bufferedAmount ?? 0;
  }
  get state(): BroadcastState {
    return this.currentState;
  }
  get mimeType(): string | undefined {
    return this.currentMime;
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
      this.onStopRequested?.();
    }
    await this.done;
  }

  private emit<K extends keyof BroadcastEventMap>(type: K, detail: BroadcastEventMap[K]): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** The failover loop: one leg per connection, until stopped or out of relays. */
  private async run(): Promise<void> {
    this.requestedMime = this.options.mimeType ?? pickMimeType(this.options.preferCodec ?? 'auto');
    const recordable = (type: string) => typeof MediaRecorder !== 'undefined' && MediaRecorder.isTypeSupported(type);
    if (!this.requestedMime || !recordable(this.requestedMime)) {
      const wanted = this.options.mimeType ?? this.options.preferCodec ?? 'auto';
      return this.fail({ code: 'NO_SUPPORTED_MIME_TYPE', message: `This browser cannot record ${wanted} video with MediaRecorder.` });
    }
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
      const outcome = await this.runLeg(this.currentUrl, () => (triesSinceLive = 0));
      this.socket = undefined;
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

  /** One WebSocket session with one MediaRecorder. Never rejects. */
  private async runLeg(url: string, onLive: () => void): Promise<LegOutcome> {
    let token: string;
    try {
      const t = this.options.token ?? '';
      token = typeof t === 'function' ? await t() : t;
    } catch {
      return { kind: 'failed', code: 'TOKEN_FAILED', message: 'Could not get a relay token.', failover: false };
    }
    if (this.stopRequested) return { kind: 'stopped' };
    // The recorder is made (not started) before the start message, so that the message carries
    // what the recorder reports (Contract 1). It starts recording only after `ready`.
    const requested = this.requestedMime as string;
    let recorder: MediaRecorder;
    try {
      recorder = this.createRecorder(requested);
    } catch (e) {
      return { kind: 'failed', code: 'NO_SUPPORTED_MIME_TYPE', message: `MediaRecorder refused ${requested}: ${String(e)}`, failover: false };
    }
    const mimeType = announcedMimeType(requested, recorder.mimeType);
    this.currentMime = mimeType;
    return new Promise<LegOutcome>((resolve) => {
      const ws = new WebSocket(url);
      ws.binaryType = 'arraybuffer';
      this.socket = ws;
      let opened = false;
      let ready = false;
      let session = '';
      let ended = false;
      let settled = false;
      let errorFrame: { code: RelayErrorCode; message: string } | undefined;
      let pendingOutcome: LegOutcome | undefined;
      const watch = new BufferWatch(defaultBufferPolicy(this.videoBps + (this.options.audioBitsPerSecond ?? DEFAULT_AUDIO_BPS)));
      let timer: ReturnType<typeof setTimeout> | undefined = setTimeout(() => {
        pendingOutcome = {
          kind: 'failed',
          code: 'CONNECTION_FAILED',
          message: opened ? 'The relay did not answer the start message in time.' : 'The relay did not accept the connection in time.',
          failover: true,
        };
        ws.close();
        settle(pendingOutcome);
      }, this.options.connectTimeoutMs ?? 10_000);
      let poll: ReturnType<typeof setInterval> | undefined;

      const cleanup = () => {
        if (timer !== undefined) clearTimeout(timer);
        if (poll !== undefined) clearInterval(poll);
        timer = undefined;
        poll = undefined;
        this.onStopRequested = undefined;
        if (recorder.state !== 'inactive') {
          recorder.ondataavailable = null;
          recorder.onstop = null;
          recorder.stop();
        }
      };
      const settle = (outcome: LegOutcome) => {
        if (settled) return;
        settled = true;
        cleanup();
        resolve(outcome);
      };
      // Leaves this leg: ends the recorder, asks the relay to finish, then waits for its close.
      const leave = (outcome: LegOutcome) => {
        // The first reason to leave wins; stop() during a bitrate restart still ends the loop (run() checks stopRequested).
        if (pendingOutcome || settled) return;
        pendingOutcome = outcome;
        if (poll !== undefined) clearInterval(poll);
        poll = undefined;
        const sendStop = () => {
          if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'stop' }));
          if (timer !== undefined) clearTimeout(timer);
          timer = setTimeout(() => {
            ws.close(1000);
            settle(outcome);
          }, this.options.stopTimeoutMs ?? 10_000);
        };
        if (recorder.state !== 'inactive') {
          // The final dataavailable fires before `stop`, so every chunk is sent before the stop message.
          recorder.onstop = sendStop;
          recorder.stop();
        } else if (ready) {
          sendStop();
        } else {
          // Nothing was recorded yet: there is nothing to flush.
          ws.close(1000);
          settle(outcome);
        }
      };
      this.onStopRequested = () => leave({ kind: 'stopped' });

      const sample = () => {
        const buffered = ws.bufferedAmount;
        const verdict = watch.sample(buffered);
        if (verdict === 'ok') return;
        if (verdict === 'abort') {
          leave({
            kind: 'failed',
            code: 'CONGESTED',
            message: 'The upload is too slow for even the lowest bitrate; the broadcast stopped before the browser ran out of memory.',
            failover: false,
          });
          return;
        }
        const floor = this.options.minVideoBitsPerSecond ?? 300_000;
        const canReduce = verdict === 'reduce' && (this.options.adaptBitrate ?? true) && this.videoBps > floor;
        if (canReduce) {
          this.videoBps = Math.max(floor, Math.round(this.videoBps * 0.6));
          this.emit('warning', {
            code: 'BITRATE_LOWERED',
            message: `The upload cannot keep up; restarting at ${Math.round(this.videoBps / 1000)} kbps.`,
            bufferedAmount: buffered,
            videoBitsPerSecond: this.videoBps,
          });
          leave({ kind: 'reduce' });
        } else if (verdict === 'warn' || verdict === 'reduce') {
          this.emit('warning', {
            code: 'CONGESTED',
            message: `The upload is slower than the video: ${Math.round(buffered / 1024)} KiB waiting to be sent.`,
            bufferedAmount: buffered,
            videoBitsPerSecond: this.videoBps,
          });
        }
      };

      const startRecorder = () => {
        recorder.ondataavailable = (event: BlobEvent) => {
          // Chunks go out in order and unmodified (Contract 1, step 3).
          if (event.data.size > 0 && ws.readyState === WebSocket.OPEN) ws.send(event.data);
          sample();
        };
        recorder.onerror = () => {
          leave({ kind: 'failed', code: 'RECORDER_FAILED', message: 'The browser stopped recording (camera or microphone lost?).', failover: false });
        };
        try {
          recorder.start(this.timesliceMs);
        } catch (e) {
          leave({ kind: 'failed', code: 'RECORDER_FAILED', message: `MediaRecorder could not start: ${String(e)}`, failover: false });
          return;
        }
        // Also sample between chunks: a stalled socket still needs watching.
        poll = setInterval(sample, 500);
      };

      ws.onopen = () => {
        opened = true;
        const start: StartMessage = { type: 'start', token, ingest: this.options.ingest, streamKey: this.options.streamKey, mimeType };
        ws.send(JSON.stringify(start));
      };

      ws.onmessage = (event: MessageEvent) => {
        if (typeof event.data !== 'string') return;
        const message = parseRelayMessage(event.data);
        if (!message) return;
        switch (message.type) {
          case 'ready':
            if (ready) return;
            ready = true;
            session = message.session;
            if (timer !== undefined) clearTimeout(timer);
            timer = undefined;
            this.currentPipeline = message.pipeline;
            this.currentState = this.stopRequested ? 'stopping' : 'ready';
            this.emit('ready', { relayUrl: url, session: message.session, pipeline: message.pipeline, mimeType, videoBitsPerSecond: this.videoBps });
            if (this.stopRequested) leave({ kind: 'stopped' });
            else startRecorder();
            return;
          case 'live':
            if (!this.stopRequested) this.currentState = 'live';
            onLive();
            this.emit('live', { relayUrl: url, session });
            return;
          case 'stats': {
            const { bitrateKbps, fps, speed, droppedFrames, bufferedBytes } = message;
            this.emit('stats', { bitrateKbps, fps, speed, droppedFrames, bufferedBytes, bufferedAmount: ws.bufferedAmount, videoBitsPerSecond: this.videoBps });
            return;
          }
          case 'error':
            errorFrame = { code: message.code, message: message.message };
            return;
          case 'ended':
            ended = true;
            return;
        }
      };

      ws.onclose = (event: CloseEvent) => {
        if (settled) return;
        if (pendingOutcome && (event.code === 1000 || ended || pendingOutcome.kind !== 'stopped')) {
          settle(pendingOutcome);
          return;
        }
        settle(this.classifyClose(event, errorFrame, opened));
      };
      // An `error` event is always followed by `close`; the close code carries the information.
      ws.onerror = () => undefined;
    });
  }

  /** A recorder for one leg, with this leg's bitrate; not started. Throws when the browser refuses the options. */
  private createRecorder(mimeType: string): MediaRecorder {
    // videoKeyFrameIntervalDuration is in the MediaRecorder spec but not yet in TypeScript's DOM lib.
    const options: MediaRecorderOptions & { videoKeyFrameIntervalDuration?: number } = {
      mimeType,
      videoBitsPerSecond: this.videoBps,
      audioBitsPerSecond: this.options.audioBitsPerSecond ?? DEFAULT_AUDIO_BPS,
      videoKeyFrameIntervalDuration: this.options.keyFrameIntervalMs ?? 2000,
    };
    return new MediaRecorder(this.options.stream, options);
  }

  /** Maps a close to an outcome: 4013 and silent drops fail over, every other error is final. */
  private classifyClose(event: CloseEvent, frame: { code: RelayErrorCode; message: string } | undefined, opened: boolean): LegOutcome {
    if (event.code === CLOSE_CODES.UNAVAILABLE || frame?.code === 'UNAVAILABLE') {
      return { kind: 'failed', code: 'UNAVAILABLE', message: frame?.message ?? 'The relay is at capacity or draining.', closeCode: event.code, failover: true };
    }
    const code = frame?.code ?? errorCodeOfClose(event.code);
    if (code) {
      return { kind: 'failed', code, message: frame?.message ?? event.reason ?? code, closeCode: event.code, failover: false };
    }
    if (!opened) {
      return { kind: 'failed', code: 'CONNECTION_FAILED', message: 'Could not connect to the relay.', closeCode: event.code, failover: true };
    }
    // A 1000 nobody asked for (e.g. a relay shutting down) or an abnormal 1006: keep broadcasting elsewhere.
    return { kind: 'failed', code: 'CONNECTION_LOST', message: 'The connection to the relay dropped.', closeCode: event.code, failover: true };
  }
}
