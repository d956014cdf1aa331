/**
 * One connection ("leg") of a broadcast: one WebSocket to one relay, one recorder. The
 * broadcast (broadcast-client.ts) runs legs one after another; a failover or a bitrate restart
 * is a new leg. Shaped like the relay's own `Session` (relay/src/session.ts): an explicit state,
 * one handler per event, and the transitions between them.
 *
 *   opening ── open ──▶ awaiting-ready ── ready ──▶ recording ── stop, backlog, recorder error ──▶ leaving
 *   recording ── reconnecting ──▶ reconnecting ── ready ──▶ recording (a new recording, after `resume`)
 *   reconnecting ── stop ──▶ leaving
 *   opening, awaiting-ready ── close, connect timeout, stop ──▶ settled
 *   recording, reconnecting ── close ──▶ settled
 *   leaving ── close, stop timeout ──▶ settled
 *
 * The messages, close codes and the way to stop are those of docs/protocol.md.
 */

import { BufferWatch, DropGate, type BufferPolicy } from './backpressure.js';
import type { BitrateReport, BitrateStep } from './bitrate-controller.js';
import { outcomeOfClose, type ErrorFrame, type LegOutcome } from './leg-outcome.js';
import {
  parseRelayMessage,
  type ErrorMessage,
  type ReadyMessage,
  type ReconnectingMessage,
  type ResumeMessage,
  type StartMessage,
  type StatsMessage,
  type StopMessage,
} from './protocol.js';
import type { Recorder } from './recorder.js';
import type { DrainSample } from './uplink-estimator.js';

/** Where a leg is; `settled` is final. */
export type LegState = 'opening' | 'awaiting-ready' | 'recording' | 'reconnecting' | 'leaving' | 'settled';

/** What a leg needs: where to connect, what to announce, what to record with, and its limits. */
export interface LegOptions {
  readonly url: string;
  readonly start: StartMessage;
  /** Constructed but not started (its mimeType is in `start`): it starts on `ready`. */
  readonly recorder: Recorder;
  readonly timesliceMs: number;
  /** For the socket to open and `ready` to arrive. */
  readonly connectTimeoutMs: number;
  /** For the relay to close after the stop message. */
  readonly stopTimeoutMs: number;
  /** For a started recorder's first chunk of media (CAPTURE_FAILED past it). @default 5000 */
  readonly firstChunkTimeoutMs?: number;
  readonly bufferPolicy: BufferPolicy;
  /**
   * Follows the uplink (bitrate-controller.ts): fed a look at the socket before each chunk and on
   * the leg's clock. `inPlace`: it also sets the recorder's bitrate and when to drop frames, and
   * ends the leg with CONGESTED; else it only measures and reports. @default none
   */
  readonly bitrate?: UplinkFollower;
  /** Opens the socket; tests pass a stand-in. @default `new WebSocket(url)` */
  readonly openSocket?: (url: string) => WebSocket;
}

/** The part of a BitrateController the leg uses. */
export interface UplinkFollower {
  readonly inPlace: boolean;
  sample(sample: DrainSample): BitrateStep;
  /** The relay's count of what it received (`stats.receivedBytes`), with a look at the socket when it arrived. */
  relayReceived?(at: number, receivedBytes: number, socket: DrainSample): void;
}

/** What a leg tells the broadcast running it. */
export interface LegEvents {
  /** The relay accepted the session, or (after `reconnecting`) is ready for a new recording; the recorder starts right after. */
  ready(message: ReadyMessage): void;
  /** The relay's output failed and it is trying again; the recorder is stopped until the next `ready`. */
  reconnecting(message: ReconnectingMessage): void;
  /** FFmpeg reached the ingest. */
  live(session: string): void;
  stats(message: StatsMessage, bufferedAmount: number): void;
  /**
   * The upload backlog passed a mark. Returns true when the broadcast lowered its bitrate: the
   * leg then leaves, and the broadcast restarts at the new bitrate.
   */
  congested(verdict: 'warn' | 'reduce', bufferedAmount: number): boolean;
  /** The uplink follower's report: on every change of the target, else about every second. */
  bitrate(report: BitrateReport): void;
}

// A stalled socket (or a recorder dropping every frame) fires no dataavailable, so the backlog is
// also sampled on a clock: often enough for the uplink follower's half-second windows.
const BACKLOG_POLL_MS = 250;

/**
 * The largest binary frame the leg sends: a larger chunk (a key frame at a high bitrate, a noisy
 * picture) goes as several frames, which the relay joins, instead of passing the relay's 1 MiB
 * `RELAY_MAX_MESSAGE_BYTES` and ending the session with 1009 (docs/protocol.md#media).
 */
export const MAX_MEDIA_FRAME_BYTES = 256 * 1024;

export class ConnectionLeg {
  /** Resolves once, when the leg is settled. Never rejects. */
  readonly outcome: Promise<LegOutcome>;
  private current: LegState = 'opening';
  private resolveOutcome!: (outcome: LegOutcome) => void;
  private readonly ws: WebSocket;
  private readonly watch: BufferWatch;
  /** Only for a recorder that can drop frames (WebCodecs). */
  private readonly gate: DropGate | undefined;
  private dropping = false;
  /** Media bytes handed to the socket: with bufferedAmount, what the uplink carried. */
  private sentBytes = 0;
  private session = '';
  /** Set by the relay's `error` frame: the close that follows is classified by it. */
  private errorFrame: ErrorFrame | undefined;
  /** Set by the relay's `ended`: the stop was flushed, whatever close code follows. */
  private ended = false;
  /** The stop message went out (once, whichever of the recorder's `stop` and its deadline comes first). */
  private stopSent = false;
  /** Why the leg is leaving; set on entering `leaving`. */
  private leavingFor: LegOutcome | undefined;
  /** Set when the recorder started; cleared by its first chunk of media. */
  private firstChunk: ReturnType<typeof setTimeout> | undefined;
  /** The connect timeout until `ready`; the stop timeout while leaving. */
  private deadline: ReturnType<typeof setTimeout> | undefined;
  private poll: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly options: LegOptions, private readonly events: LegEvents) {
    this.outcome = new Promise((resolve) => (this.resolveOutcome = resolve));
    this.watch = new BufferWatch(options.bufferPolicy);
    if (options.recorder.dropFrames) this.gate = new DropGate(options.bufferPolicy);
    this.ws = (options.openSocket ?? ((url) => new WebSocket(url)))(options.url);
    this.ws.binaryType = 'arraybuffer';
    this.ws.onopen = () => this.onOpen();
    this.ws.onmessage = (event: MessageEvent) => this.onMessage(event);
    this.ws.onclose = (event: CloseEvent) => this.onClose(event);
    // No onerror: an `error` event is always followed by `close`, whose code says more.
    this.deadline = setTimeout(() => this.onConnectTimeout(), options.connectTimeoutMs);
  }

  get state(): LegState {
    return this.current;
  }

  /** Bytes queued in this leg's socket, not yet sent. */
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  /** The user's stop: before `ready` there is nothing to flush; after it, the recording is flushed first. */
  stop(): void {
    switch (this.current) {
      case 'opening':
      case 'awaiting-ready':
        this.ws.close(1000);
        this.settle({ kind: 'stopped' });
        return;
      case 'recording':
        this.leave({ kind: 'stopped' });
        return;
      case 'reconnecting':
        // Nothing is recording: the relay ends the session at once.
        this.current = 'leaving';
        this.leavingFor = { kind: 'stopped' };
        this.sendStop();
        return;
      // Leaving already: the first reason stands. After a bitrate restart's leg the broadcast
      // sees the stop itself and starts no other.
    }
  }

  // Socket events.

  private onOpen(): void {
    if (this.current !== 'opening') return;
    this.current = 'awaiting-ready';
    this.send(this.options.start);
  }

  private onMessage(event: MessageEvent): void {
    if (this.current === 'settled' || typeof event.data !== 'string') return;
    // The parser drops unknown messages: a newer relay may send more (docs/protocol.md#messages-from-the-relay).
    const message = parseRelayMessage(event.data);
    switch (message?.type) {
      case 'ready':
        return this.onReady(message);
      case 'live':
        return this.onLive();
      case 'reconnecting':
        return this.onReconnecting(message);
      case 'stats':
        return this.onStats(message);
      case 'error':
        return this.onErrorFrame(message);
      case 'ended':
        return this.onEnded();
    }
  }

  private onReady(message: ReadyMessage): void {
    if (this.current === 'reconnecting') return this.onReadyAgain(message);
    if (this.current !== 'awaiting-ready') return;
    this.clearDeadline();
    this.session = message.session;
    this.current = 'recording';
    this.events.ready(message);
    // Only now, so that the first chunk (the container header) is the first thing FFmpeg reads
    // (docs/protocol.md#start-message). Unless a `ready` listener stopped the broadcast.
    if (this.current === 'recording') this.startRecorder();
  }

  /**
   * The relay asks for a new recording (docs/protocol.md#reconnecting): a new header and a key
   * frame first. `resume` tells it where the new recording begins, since chunks of the old one may
   * still be on their way.
   */
  private onReadyAgain(message: ReadyMessage): void {
    this.current = 'recording';
    this.events.ready(message);
    if (this.current !== 'recording') return;
    this.send({ type: 'resume' });
    this.startRecorder();
  }

  /** The relay lost its output: the recording stops (the relay would drop it) until it asks for a new one. */
  private onReconnecting(message: ReconnectingMessage): void {
    if (this.current !== 'recording') return;
    this.current = 'reconnecting';
    this.stopRecorder();
    this.events.reconnecting(message);
  }

  private onLive(): void {
    // Even while leaving: the broadcast was live, which matters to its failover count.
    this.events.live(this.session);
  }

  private onStats(message: StatsMessage): void {
    // A relay that does not count what it received (older than the field) leaves the follower to the socket alone.
    if (typeof message.receivedBytes === 'number' && this.current === 'recording') {
      const at = performance.now();
      this.options.bitrate?.relayReceived?.(at, message.receivedBytes, { at, bufferedAmount: this.ws.bufferedAmount, sentBytes: this.sentBytes });
    }
    this.events.stats(message, this.ws.bufferedAmount);
  }

  private onErrorFrame(message: ErrorMessage): void {
    this.errorFrame = { code: message.code, message: message.message };
  }

  private onEnded(): void {
    this.ended = true;
  }

  private onClose(event: CloseEvent): void {
    if (this.current === 'settled') return;
    if (this.current === 'leaving') {
      const why = this.leavingFor!;
      // A failure or a restart stands whatever the close; a stop, unless the relay answered it
      // with an error (no `ended`, no 1000): then that error is the outcome.
      if (why.kind !== 'stopped' || this.ended || event.code === 1000) return this.settle(why);
    }
    this.settle(outcomeOfClose(event, this.errorFrame, this.current !== 'opening'));
  }

  // Recorder events.

  private onRecorderData(event: BlobEvent): void {
    if (this.current === 'settled') return;
    if (event.data.size > 0) this.clearFirstChunk();
    // Looked at before this chunk joins the queue: what is left of the earlier ones is the backlog.
    this.followUplink();
    // In order and unmodified: the relay's FFmpeg reads their concatenation (docs/protocol.md#media).
    const chunk = event.data;
    if (chunk.size > 0 && this.ws.readyState === WebSocket.OPEN) {
      if (chunk.size <= MAX_MEDIA_FRAME_BYTES) this.ws.send(chunk);
      else for (let at = 0; at < chunk.size; at += MAX_MEDIA_FRAME_BYTES) this.ws.send(chunk.slice(at, at + MAX_MEDIA_FRAME_BYTES));
      this.sentBytes += chunk.size;
    }
    this.checkBacklog();
  }

  private onRecorderError(event: ErrorEvent): void {
    if ((event.error as Error | undefined)?.name === 'CaptureStartError') {
      this.leave({ kind: 'failed', code: 'CAPTURE_FAILED', message: event.message, failover: false });
      return;
    }
    // MediaRecorder's error events often carry no message; the WebCodecs recorder's say what broke.
    const detail = event.message ? ` (${event.message})` : '';
    this.leave({ kind: 'failed', code: 'RECORDER_FAILED', message: `The browser stopped recording${detail}: camera or microphone lost?`, failover: false });
  }

  // Timers.

  private onConnectTimeout(): void {
    const message = this.current === 'opening' ? 'The relay did not accept the connection in time.' : 'The relay did not answer the start message in time.';
    this.ws.close();
    this.settle({ kind: 'failed', code: 'CONNECTION_FAILED', message, failover: true });
  }

  private onStopTimeout(): void {
    this.ws.close(1000);
    this.settle(this.leavingFor!);
  }

  /**
   * Feeds the uplink follower; in place, applies what it decides: the encoder's bitrate, dropping
   * frames, or the end with CONGESTED once even the minimum bitrate does not fit.
   */
  private followUplink(): void {
    const follower = this.options.bitrate;
    if (!follower || this.current !== 'recording') return;
    const step = follower.sample({ at: performance.now(), bufferedAmount: this.ws.bufferedAmount, sentBytes: this.sentBytes });
    if (step.changed) this.options.recorder.setVideoBitrate?.(step.videoBitsPerSecond);
    if (step.drop !== undefined) this.setDropping(step.drop);
    if (step.report) this.events.bitrate(step.report);
    if (step.congested) this.leave({ kind: 'failed', code: 'CONGESTED', message: step.congested, failover: false });
  }

  private setDropping(drop: boolean): void {
    if (drop === this.dropping) return;
    this.dropping = drop;
    this.options.recorder.dropFrames?.(drop);
  }

  /**
   * Turns a backlog sample into a warning, a restart at a lower bitrate, or the end. A recorder
   * that can drop frames drops them first, so its backlog stays bounded without a restart; one
   * whose bitrate follows the uplink in place is never restarted.
   */
  private checkBacklog(): void {
    // Once leaving, the recorder's last chunk is the end of the stream, not a sign of congestion:
    // judging it could lower the bitrate (and say so) with no restart to follow.
    if (this.current !== 'recording') return;
    const buffered = this.ws.bufferedAmount;
    const inPlace = this.options.bitrate?.inPlace === true;
    // In place, the follower decides when to drop (in ms of media at the bitrate in force).
    const gated = inPlace ? undefined : this.gate?.sample(buffered);
    if (gated) this.setDropping(gated.drop);
    if (gated?.reduce && this.events.congested('reduce', buffered)) {
      this.leave({ kind: 'reduce' });
      return;
    }
    const verdict = gated?.abort ? 'abort' : this.watch.sample(buffered);
    if (verdict === 'ok' || (verdict === 'reduce' && inPlace)) return;
    if (verdict === 'abort') {
      this.leave({
        kind: 'failed',
        code: 'CONGESTED',
        message: 'The upload is too slow for even the lowest bitrate; the broadcast stopped before the browser ran out of memory.',
        failover: false,
      });
    } else if (this.events.congested(verdict, buffered)) {
      this.leave({ kind: 'reduce' });
    }
  }

  // Transitions.

  private startRecorder(): void {
    const recorder = this.options.recorder;
    recorder.ondataavailable = (event: BlobEvent) => this.onRecorderData(event);
    recorder.onerror = (event: ErrorEvent) => this.onRecorderError(event);
    this.dropping = false;
    try {
      recorder.start(this.options.timesliceMs);
    } catch (e) {
      this.leave({ kind: 'failed', code: 'RECORDER_FAILED', message: `The recorder could not start: ${String(e)}`, failover: false });
      return;
    }
    this.poll = setInterval(() => {
      this.followUplink();
      this.checkBacklog();
    }, BACKLOG_POLL_MS);
    const firstChunkMs = this.options.firstChunkTimeoutMs ?? 5000;
    this.clearFirstChunk();
    this.firstChunk = setTimeout(() => {
      // A recorder that produced nothing has nothing to flush, and may never fire `stop` either
      // (WebKitGTK's MediaRecorder without an MP4 muxer): it is let go, and the relay told at once.
      this.stopRecorder();
      this.leave({ kind: 'failed', code: 'CAPTURE_FAILED', message: `The browser recorded nothing within ${firstChunkMs / 1000} s of starting.`, failover: false });
    }, firstChunkMs);
  }

  private clearFirstChunk(): void {
    clearTimeout(this.firstChunk);
    this.firstChunk = undefined;
  }

  /** Stops the recorder and drops what it still delivers. */
  private stopRecorder(): void {
    this.clearFirstChunk();
    clearInterval(this.poll);
    this.poll = undefined;
    const recorder = this.options.recorder;
    if (recorder.state === 'inactive') return;
    recorder.ondataavailable = null;
    recorder.onstop = null;
    recorder.stop();
  }

  /** recording → leaving: ends the recorder, then asks the relay to finish; the relay's close settles the leg. */
  private leave(outcome: LegOutcome): void {
    if (this.current !== 'recording') return;
    this.current = 'leaving';
    this.leavingFor = outcome;
    this.clearFirstChunk();
    clearInterval(this.poll);
    this.poll = undefined;
    const recorder = this.options.recorder;
    if (recorder.state === 'inactive') {
      this.sendStop();
      return;
    }
    // The final dataavailable fires before `stop`, so every chunk is sent before the stop message
    // (docs/protocol.md#stopping). A recorder whose `stop` never comes does not hold the leg: the
    // stop message goes after stopTimeoutMs anyway.
    recorder.onstop = () => this.sendStop();
    this.clearDeadline();
    this.deadline = setTimeout(() => this.sendStop(), this.options.stopTimeoutMs);
    recorder.stop();
  }

  private sendStop(): void {
    if (this.current !== 'leaving' || this.stopSent) return;
    this.stopSent = true;
    this.clearDeadline();
    this.send({ type: 'stop' });
    this.deadline = setTimeout(() => this.onStopTimeout(), this.options.stopTimeoutMs);
  }

  /** Any state → settled: timers off, the recorder stopped (its last chunk dropped), the outcome out. */
  private settle(outcome: LegOutcome): void {
    this.current = 'settled';
    this.clearDeadline();
    this.stopRecorder();
    this.resolveOutcome(outcome);
  }

  private clearDeadline(): void {
    clearTimeout(this.deadline);
    this.deadline = undefined;
  }

  private send(message: StartMessage | StopMessage | ResumeMessage): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }
}
