import type { ServerWebSocket } from 'bun';
import type { BufferHolder } from './buffer-budget.ts';
import { EarlyMedia } from './early-media.ts';
import type { FfmpegProgress } from './ffmpeg.ts';
import { limitRefusal } from './limit-refusal.ts';
import { H264HeaderCheck } from './matroska-header.ts';
import type { Retry } from './outages.ts';
import { openOutput } from './outputs/open-output.ts';
import { SPAWN_FAILED, WATCHDOG_INTERVAL_MS, type Output, type OutputEvents } from './outputs/output.ts';
import type { PendingTicket } from './pending.ts';
import type { PipelinePlan } from './pipeline.ts';
import { CLOSE_CODES, frameTooBig, parseClientMessage, SessionError, type ServerMessage, type StartMessage } from './protocol.ts';
import type { SessionHost, SocketData } from './session-host.ts';
import { STATS_INTERVAL_MS, StatsReport } from './session-stats.ts';
import { checkStart } from './start-check.ts';
import { forgetSecrets, log, metric, registerSecrets } from './telemetry.ts';

type State = 'awaiting-start' | 'validating' | 'streaming' | 'reconnecting' | 'stopping' | 'closed';

/**
 * One client connection: start message, checks, output, media, and the end of it all. The session
 * joins the socket to its output (outputs/output.ts), which owns every FFmpeg and capacity slot;
 * every path out of the session goes through {@link Session.fail} or a clean stop.
 */
export class Session implements BufferHolder {
  readonly id = crypto.randomUUID();
  private state: State = 'awaiting-start';
  private output?: Output;
  private startTimer?: Timer;
  private mediaWatchdog?: Timer;
  private statsTimer?: Timer;
  /**
   * The last sign of media moving, for RELAY_MEDIA_TIMEOUT_MS: a binary frame until the session is
   * live, then FFmpeg's output time growing (see onProgress).
   */
  private lastMediaAt = Date.now();
  /** When the start message arrived: start → live is what a broadcaster waits through. */
  private startAt = 0;
  private isLive = false;
  private wasLive = false;
  /** Held while the connection waits to start (see pending.ts); given back once it holds a slot or ends. */
  private pending?: PendingTicket;
  /** The client's address, read once: Bun no longer knows it after the close. */
  private readonly remote: string;
  private paused = false;
  private stopReason?: 'client' | 'drain';
  private progress?: FfmpegProgress;
  private readonly stats = new StatsReport();
  private mediaBytes = 0;
  /** After a later `ready`: binary frames belong to the old recording until the client's `resume`. */
  private awaitingResume = false;
  /** Media that arrived on the compatibility route before FFmpeg was ready. */
  private earlyMedia: EarlyMedia | undefined;
  /** The current recording's H.264 header, checked before FFmpeg copies it (matroska-header.ts); one per recording. */
  private header: H264HeaderCheck | undefined;
  private plan?: PipelinePlan;

  constructor(private readonly ws: ServerWebSocket<SocketData>, private readonly host: SessionHost) {
    this.remote = ws.remoteAddress;
  }

  /** Called when the socket opens. */
  open(): void {
    log('info', 'connection opened', { session: this.id, remote: this.remote });
    if (this.host.isDraining()) {
      this.fail(new SessionError('UNAVAILABLE', 'relay is draining; try another relay'));
      return;
    }
    const admitted = this.host.admitPending(this.remote);
    if (typeof admitted === 'string') {
      this.fail(limitRefusal(admitted, this.host.config));
      return;
    }
    this.pending = admitted;
    const implicit = this.ws.data.implicitStart;
    if (implicit) {
      this.earlyMedia = new EarlyMedia(this.host.config.maxBufferedBytes);
      void this.start(implicit);
      return;
    }
    this.startTimer = setTimeout(() => {
      this.fail(new SessionError('BAD_REQUEST', `no start message within ${this.host.config.startTimeoutMs} ms`));
    }, this.host.config.startTimeoutMs);
  }

  /** Called for every frame from the client. */
  message(data: string | Uint8Array): void {
    if (this.state === 'closed') return;
    if (typeof data !== 'string') {
      this.stats.received(data.byteLength);
      this.host.delayTrace?.frameArrived(data);
    }
    const tooBig = frameTooBig(data, this.state === 'awaiting-start' || this.state === 'validating', this.host.config.maxMessageBytes);
    if (tooBig) {
      this.fail(tooBig);
      return;
    }
    try {
      if (typeof data === 'string') this.onText(data);
      else this.onMedia(data);
    } catch (e) {
      this.fail(e instanceof SessionError ? e : new SessionError('INTERNAL', 'unexpected relay error'));
      if (!(e instanceof SessionError)) log('error', 'unexpected error handling a frame', { session: this.id, error: String(e) });
    }
  }

  /** Called when the socket closed, by either side. A client that vanished lands here too. */
  closed(code: number): void {
    if (this.state === 'closed') return;
    const wasStreaming = this.state === 'streaming' || this.state === 'stopping';
    this.state = 'closed';
    this.clearTimers();
    this.leavePending();
    log('info', 'client disconnected', { session: this.id, code, streaming: wasStreaming });
    // The client is gone, but what FFmpeg already has is worth finishing cleanly at the ingest.
    this.finishOutput(true);
  }

  /** Stops the session cleanly as if the client had sent `stop` (used when draining). */
  stop(reason: 'client' | 'drain'): void {
    if (this.state === 'reconnecting') {
      this.stopReason = reason;
      this.endCleanly();
    } else if (this.state === 'streaming') {
      this.beginStop(reason);
    } else if (this.state === 'awaiting-start' || this.state === 'validating') {
      this.fail(new SessionError('UNAVAILABLE', 'relay is shutting down; try another relay'));
    }
  }

  /** The relay's media budget ran out and this session holds the most: its ingest is the slowest. */
  overBudget(): void {
    const cfg = this.host.config;
    this.fail(new SessionError('INGEST_FAILED', `ingest is not keeping up; the relay's buffered media limit (RELAY_MAX_TOTAL_BUFFERED_BYTES: ${cfg.maxTotalBufferedBytes}) was reached and this session held the most`));
  }

  private onText(text: string): void {
    const msg = parseClientMessage(text);
    if (this.state === 'awaiting-start') {
      if (msg.type !== 'start') throw new SessionError('BAD_REQUEST', 'first frame must be a start message');
      void this.start(msg);
      return;
    }
    if (msg.type === 'resume') {
      if (this.state === 'streaming' && this.awaitingResume) {
        this.awaitingResume = false;
        this.lastMediaAt = Date.now();
      }
      return;
    }
    if (msg.type === 'stop') {
      if (this.state === 'reconnecting') this.stop('client');
      else if (this.state === 'streaming') this.beginStop('client');
      else if (this.state === 'validating') this.fail(new SessionError('BAD_REQUEST', 'stop before ready'));
      return;
    }
    if (msg.type === 'start') throw new SessionError('BAD_REQUEST', 'session already started');
    log('debug', 'ignored unknown message type', { session: this.id, type: msg.name });
  }

  private onMedia(chunk: Uint8Array): void {
    if (this.state === 'awaiting-start') throw new SessionError('BAD_REQUEST', 'binary frame before start');
    if (this.state === 'validating') {
      if (!this.earlyMedia) throw new SessionError('BAD_REQUEST', 'binary frame before ready');
      this.earlyMedia.push(chunk);
      return;
    }
    // While the output is down, and until a new recording begins, media is dropped: memory stays flat.
    if (this.state === 'reconnecting' || this.awaitingResume) return;
    if (this.state !== 'streaming' || !this.output) return; // after stop: late chunks are dropped
    if (!this.isLive) this.lastMediaAt = Date.now();
    this.mediaBytes += chunk.byteLength;
    // pause() stops further reads, but frames already read still arrive: this is the hard bound.
    if (this.output.bufferedBytes + chunk.byteLength > this.host.config.maxBufferedBytes) {
      throw new SessionError('INGEST_FAILED', 'ingest is not keeping up; buffered media limit reached');
    }
    if (!this.header) {
      this.output.write(chunk);
      return;
    }
    const { bytes, repaired } = this.header.push(chunk);
    if (repaired) log('info', 'repaired the H.264 header', { session: this.id, detail: repaired });
    for (const part of bytes) this.output.write(part);
  }

  private async start(msg: StartMessage): Promise<void> {
    this.startAt = Date.now();
    clearTimeout(this.startTimer);
    this.state = 'validating';
    const cfg = this.host.config;
    try {
      const { plan, destinations, holder, secrets } = await checkStart(msg, this.remote, cfg, this.host.verifyToken);
      if (this.state !== 'validating') return; // the client left during the checks
      // Registered only once the client is known to hold a valid token, and only for this session's
      // own lines: what a client chooses as its key must not rewrite anyone else's. (The values are
      // in no log field anyway; this is the second net.)
      registerSecrets(this.id, secrets);
      if (this.host.isDraining()) throw new SessionError('UNAVAILABLE', 'relay is draining; try another relay');
      const reconnect = msg.reconnect === true && cfg.reconnectWindowMs > 0;
      const { delayTrace, reserve } = this.host;
      const output = openOutput({ session: this.id, plan, destinations, holder, reconnect, config: cfg, delayTrace, reserve }, this.outputEvents());
      if (typeof output === 'string') throw limitRefusal(output, cfg);
      // A session now: its slots bound it from here on.
      this.leavePending();
      this.output = output;
      this.plan = plan;
      log('info', 'session ready', {
        session: this.id,
        pipeline: plan.pipeline,
        inputFormat: plan.inputFormat,
        audio: plan.audio,
        ingest: destinations.map((d) => d.ingest).join(','),
        ffmpegPid: output.pid,
      });
      metric('SessionsStarted', 1, 'Count');
      this.beginRecording();
      this.mediaWatchdog = setInterval(() => this.checkMediaTimeout(), WATCHDOG_INTERVAL_MS);
      this.statsTimer = setInterval(() => this.sendStats(), STATS_INTERVAL_MS);
      const early = this.earlyMedia?.chunks ?? [];
      this.earlyMedia = undefined;
      for (const chunk of early) this.onMedia(chunk);
    } catch (e) {
      if (e instanceof SessionError) {this.fail(e);} else {
        log('error', 'could not start session', { session: this.id, error: String(e) });
        this.fail(new SessionError('INTERNAL', SPAWN_FAILED));
      }
    }
  }

  /** Sends `ready` for a new FFmpeg: the client's next recording is what it reads. */
  private beginRecording(): void {
    this.state = 'streaming';
    // Each recording has its own header.
    this.header = this.plan?.inputFormat === 'matroska' ? new H264HeaderCheck() : undefined;
    this.lastMediaAt = Date.now();
    this.send({ type: 'ready', session: this.id, pipeline: this.plan!.pipeline });
  }

  /** What the output tells the session; nothing it says matters once the session is closed. */
  private outputEvents(): OutputEvents {
    return {
      onRestarted: (attempt) => this.onRestarted(attempt),
      onLive: (downMs) => this.onLive(downMs),
      onReconnecting: (failure, retry) => this.onReconnecting(failure, retry),
      onFailed: (failure) => this.fail(failure),
      onEnded: () => {
        if (this.state === 'stopping') this.endCleanly();
      },
      onProgress: (p) => {
        // Once live, bytes are not proof of media: a client dribbling a byte a second would hold its
        // slot forever. Only FFmpeg writing more stream time is.
        if (p.outTimeUs > (this.progress?.outTimeUs ?? 0)) this.lastMediaAt = Date.now();
        this.progress = p;
      },
      onBackpressure: (backedUp) => this.setPaused(backedUp),
      onQueueChange: (bytes) => this.host.buffers.set(this, bytes),
    };
  }

  private onLive(downMs: number | undefined): void {
    this.isLive = true;
    this.lastMediaAt = Date.now();
    if (this.state !== 'streaming' && this.state !== 'stopping') return;
    if (!this.wasLive) {
      this.wasLive = true;
      const startToLiveMs = Date.now() - this.startAt;
      log('info', 'live', { session: this.id, startToLiveMs });
      metric('StartToLiveMs', startToLiveMs, 'Milliseconds');
    } else if (downMs !== undefined) {
      log('info', 'live again', { session: this.id, downMs, reconnects: this.output?.reconnects });
      metric('ReconnectDowntimeMs', downMs, 'Milliseconds');
    }
    this.send({ type: 'live' });
  }

  /** The output failed after the session was live and tries again (docs/protocol.md#reconnecting). */
  private onReconnecting(failure: SessionError, { attempt, retryInMs }: Retry): void {
    if (this.state === 'closed') return;
    this.state = 'reconnecting';
    this.isLive = false;
    this.awaitingResume = false;
    this.setPaused(false);
    log('warn', 'reconnecting', { session: this.id, attempt, code: failure.code, reason: failure.message, retryInMs });
    this.send({ type: 'reconnecting', attempt, code: failure.code, message: failure.message, retryInMs });
  }

  /** A new FFmpeg is up: `ready` asks the client for a new recording, sent after its `resume`. */
  private onRestarted(attempt: number): void {
    if (this.state !== 'reconnecting') return;
    log('info', 'output restarted', { session: this.id, attempt, ffmpegPid: this.output?.pid });
    this.awaitingResume = true;
    this.mediaBytes = 0;
    this.stats.restarted();
    this.progress = undefined;
    this.beginRecording();
  }

  private setPaused(paused: boolean): void {
    if (this.state === 'closed' || this.paused === paused) return;
    this.paused = paused;
    if (paused) {
      this.host.delayTrace?.socketPaused();
      this.ws.pause();
    } else {
      this.ws.resume();
      // Time spent paused was the ingest's fault, not the client's.
      this.lastMediaAt = Date.now();
    }
  }

  private beginStop(reason: 'client' | 'drain'): void {
    this.state = 'stopping';
    this.stopReason = reason;
    log('info', 'stopping', { session: this.id, reason });
    if (this.mediaBytes === 0) {
      // Nothing was sent, so there is nothing to flush; FFmpeg would only fail on an empty input.
      this.endCleanly();
      return;
    }
    this.setPaused(false);
    // The output bounds the flush by RELAY_INGEST_STALL_TIMEOUT_MS, and says how it ended.
    this.output?.end();
  }

  private checkMediaTimeout(): void {
    const cfg = this.host.config;
    if (this.state === 'streaming' && !this.paused && Date.now() - this.lastMediaAt > cfg.mediaTimeoutMs) {
      this.fail(new SessionError('MEDIA_TIMEOUT', `no media for ${cfg.mediaTimeoutMs} ms`), true);
    }
  }

  private sendStats(): void {
    if (this.state !== 'streaming' && this.state !== 'stopping' && this.state !== 'reconnecting') return;
    this.send(this.stats.next(this.output, this.isLive ? this.progress : undefined));
  }

  private endCleanly(): void {
    this.state = 'closed';
    this.clearTimers();
    this.send({ type: 'ended' });
    this.ws.close(1000, 'ended');
    log('info', 'session ended', { session: this.id, reason: this.stopReason, mediaBytes: this.mediaBytes });
    // Flushed already, or (no media, or between tries) nothing to flush.
    this.finishOutput(false);
  }

  /**
   * Ends the session with an error frame and its close code, then stops the output: killed at once,
   * or (graceful) given its input's end and RELAY_INGEST_STALL_TIMEOUT_MS to finish what it has.
   */
  private fail(err: SessionError, graceful = false): void {
    if (this.state === 'closed') return;
    const started = this.state === 'streaming' || this.state === 'stopping' || this.state === 'reconnecting';
    this.state = 'closed';
    this.clearTimers();
    this.leavePending();
    const fields = { session: this.id, code: err.code, closeCode: err.closeCode, reason: err.message, started };
    log(err.code === 'INTERNAL' ? 'error' : 'warn', 'session failed', fields);
    metric('SessionsFailed', 1, 'Count', { Code: err.code });
    this.send({ type: 'error', code: err.code, message: err.message });
    try {
      this.ws.close(CLOSE_CODES[err.code], err.code);
    } catch {
      // already closed
    }
    this.finishOutput(graceful);
  }

  /**
   * Stops the output, if any. The secrets stay registered for as long as an FFmpeg, whose argv
   * holds them, may run: the exit line of the session's last one is the last that could echo them.
   */
  private finishOutput(graceful: boolean): void {
    const output = this.output;
    if (graceful) output?.end();
    else output?.kill();
    void (output?.done ?? Promise.resolve()).then(() => {
      this.host.buffers.set(this, 0);
      forgetSecrets(this.id);
    });
  }

  /** Gives back the connection's place among those waiting to start, if it still holds one. */
  private leavePending(): void {
    this.pending?.release();
    this.pending = undefined;
  }

  private clearTimers(): void {
    clearTimeout(this.startTimer);
    clearInterval(this.mediaWatchdog);
    clearInterval(this.statsTimer);
  }

  private send(msg: ServerMessage): void {
    if (this.ws.readyState !== 1) return;
    this.ws.send(JSON.stringify(msg));
  }
}
