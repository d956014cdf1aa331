import type { ServerWebSocket } from 'bun';
import type { JWTPayload } from 'jose';
import { tokenSubject, type TokenVerifier } from './auth.ts';
import type { BufferBudget, BufferHolder } from './buffer-budget.ts';
import type { CapacityLimit, Slot, SlotHolder, SlotKind } from './capacity.ts';
import type { RelayConfig } from './config.ts';
import type { DelayTrace } from './delay-trace.ts';
import { checkDestination } from './destination.ts';
import { FfmpegProcess, type FfmpegEvents, type FfmpegExit, type FfmpegProgress } from './ffmpeg.ts';
import { nonPublicAddressProblem } from './ingest-address.ts';
import { H264HeaderCheck } from './matroska-header.ts';
import { Outages } from './outages.ts';
import { Fanout, type FanoutDestination as Destination } from './outputs/fanout.ts';
import type { PendingLimit, PendingTicket } from './pending.ts';
import { ffmpegArgs, planPipeline, type PipelinePlan } from './pipeline.ts';
import { CLOSE_CODES, parseClientMessage, SessionError, START_MESSAGE_MAX_BYTES, type ServerMessage, type StartMessage } from './protocol.ts';
import { forgetSecrets, log, metric, registerSecrets } from './telemetry.ts';
import { bindingProblem } from './token-binding.ts';

/** Per-socket data attached at upgrade time. */
export interface SocketData {
  session?: Session;
  /** Set by the compatibility route: the start message is implied by the URL. */
  implicitStart?: StartMessage;
}

/** What a session needs from the server that owns it. */
export interface SessionHost {
  readonly config: RelayConfig;
  readonly verifyToken: TokenVerifier;
  /** The relay-wide bound on media held for FFmpeg (RELAY_MAX_TOTAL_BUFFERED_BYTES). */
  readonly buffers: BufferBudget;
  /** Set only with `RELAY_DELAY_TRACE_FILE`. */
  readonly delayTrace?: DelayTrace;
  isDraining(): boolean;
  /** A place among the connections waiting to start, or the limit that refuses it. */
  admitPending(address: string): PendingTicket | PendingLimit;
  /** A capacity slot, synchronously, or the limit that refuses it. */
  reserve(kind: SlotKind, holder: SlotHolder): Slot | CapacityLimit;
}

type State = 'awaiting-start' | 'validating' | 'streaming' | 'reconnecting' | 'stopping' | 'closed';

const STATS_INTERVAL_MS = 2000;
const WATCHDOG_INTERVAL_MS = 250;
// Queue sizes at which the socket stops and restarts being read: a few MediaRecorder chunks
// (docs/pipeline.md#backpressure-and-limits).
const HIGH_WATER_BYTES = 1024 * 1024;
const LOW_WATER_BYTES = 256 * 1024;

/**
 * One client connection: start message, checks, FFmpeg, media, and the end of it all.
 * Every path out of the session goes through {@link Session.fail} or a clean stop. The capacity
 * slot is released when FFmpeg has exited and been reaped, or at once when it could not be spawned.
 */
export class Session implements BufferHolder {
  readonly id = crypto.randomUUID();
  private state: State = 'awaiting-start';
  private ffmpeg?: FfmpegProcess | Fanout;
  private startTimer?: Timer;
  private watchdog?: Timer;
  private statsTimer?: Timer;
  private killTimer?: Timer;
  /**
   * The last sign of media moving, for RELAY_MEDIA_TIMEOUT_MS: a binary frame until the session is
   * live, then FFmpeg's output time growing (see onProgress).
   */
  private lastMediaAt = Date.now();
  /** When `ready` was sent; FFmpeg has RELAY_LIVE_TIMEOUT_MS from then to open its output. */
  private readyAt = 0;
  /** When the start message arrived: start → live is what a broadcaster waits through. */
  private startAt = 0;
  private isLive = false;
  /** Held while the connection waits to start (see pending.ts); given back once it holds a slot or ends. */
  private pending?: PendingTicket;
  /** The client's address, read once: Bun no longer knows it after the close. */
  private readonly remote: string;
  private paused = false;
  private stopReason?: 'client' | 'drain';
  private progress?: FfmpegProgress;
  private reportedDrops = 0;
  private mediaBytes = 0;
  /** What the session publishes, and for whom: kept for a reconnect (docs/protocol.md#reconnecting). */
  private output?: { readonly plan: PipelinePlan; readonly destinations: readonly Destination[]; readonly holder: SlotHolder };
  /** The client asked to be told to start a new recording after an output failure. */
  private reconnect = false;
  private wasLive = false;
  /** The output's latest failure while reconnecting: the session ends with it if the window runs out during a try. */
  private lastOutputFailure: SessionError | undefined;
  private readonly outages: Outages;
  private retryTimer?: Timer;
  /** After a later `ready`: binary frames belong to the old recording until the client's `resume`. */
  private awaitingResume = false;
  /** Media that arrived on the compatibility route before FFmpeg was ready. */
  private earlyMedia: Uint8Array[] | undefined;
  /** The current recording's H.264 header, checked before FFmpeg copies it (matroska-header.ts); one per FFmpeg. */
  private header: H264HeaderCheck | undefined;
  private earlyBytes = 0;

  constructor(private readonly ws: ServerWebSocket<SocketData>, private readonly host: SessionHost) {
    this.remote = ws.remoteAddress;
    this.outages = new Outages(host.config.reconnectWindowMs);
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
      this.fail(this.unavailable(admitted));
      return;
    }
    this.pending = admitted;
    const implicit = this.ws.data.implicitStart;
    if (implicit) {
      this.earlyMedia = [];
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
    if (typeof data !== 'string') this.host.delayTrace?.frameArrived(data);
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    // Until `ready` a text frame is only ever a start message: no reason for it to be large.
    const beforeReady = this.state === 'awaiting-start' || this.state === 'validating';
    const limit = typeof data === 'string' && beforeReady
      ? Math.min(START_MESSAGE_MAX_BYTES, this.host.config.maxMessageBytes)
      : this.host.config.maxMessageBytes;
    if (size > limit) {
      this.fail(new SessionError('MESSAGE_TOO_BIG', `frame of ${size} bytes exceeds ${limit}`));
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
    this.finishFfmpeg(true);
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
      this.earlyBytes += chunk.byteLength;
      if (this.earlyBytes > this.host.config.maxBufferedBytes) {
        throw new SessionError('INGEST_FAILED', 'too much media before the relay was ready');
      }
      this.earlyMedia.push(chunk);
      return;
    }
    // While the output is down, and until a new recording begins, media is dropped: memory stays flat.
    if (this.state === 'reconnecting' || this.awaitingResume) return;
    if (this.state !== 'streaming' || !this.ffmpeg) return; // after stop: late chunks are dropped
    if (!this.isLive) this.lastMediaAt = Date.now();
    this.mediaBytes += chunk.byteLength;
    // pause() stops further reads, but frames already read still arrive: this is the hard bound.
    if (this.ffmpeg.bufferedBytes + chunk.byteLength > this.host.config.maxBufferedBytes) {
      throw new SessionError('INGEST_FAILED', 'ingest is not keeping up; buffered media limit reached');
    }
    if (!this.header) {
      this.ffmpeg.write(chunk);
      return;
    }
    const { bytes, repaired } = this.header.push(chunk);
    if (repaired) log('info', 'repaired the H.264 header', { session: this.id, detail: repaired });
    for (const part of bytes) this.ffmpeg.write(part);
  }

  private async start(msg: StartMessage): Promise<void> {
    this.startAt = Date.now();
    clearTimeout(this.startTimer);
    this.state = 'validating';
    try {
      const claims = await this.host.verifyToken(msg.token);
      if (this.state !== 'validating') return; // the client left during verification
      const destinations = await this.checkDestinations(msg, claims);
      if (this.state !== 'validating') return;
      // Registered only once the client is known to hold a valid token, and only for this session's
      // own lines: what a client chooses as its key must not rewrite anyone else's. (The values are
      // in no log field anyway; this is the second net.) With RELAY_AUTH=none there is no token.
      registerSecrets(this.id, [
        ...(claims !== undefined && msg.token ? [msg.token] : []),
        ...destinations.flatMap((d) => [d.streamKey, d.publishUrl]),
      ]);
      const plan = planPipeline(msg.mimeType);
      if (this.host.isDraining()) throw new SessionError('UNAVAILABLE', 'relay is draining; try another relay');
      const subject = claims === undefined ? undefined : tokenSubject(claims, msg.token!);
      this.output = { plan, destinations, holder: { address: this.remote, subject } };
      const slots = this.reserveSlots();
      if (typeof slots === 'string') throw this.unavailable(slots);
      // A session now: its slots bound it from here on.
      this.leavePending();
      this.reconnect = msg.reconnect === true && this.host.config.reconnectWindowMs > 0;
      const ffmpeg = this.spawn(slots);
      log('info', 'session ready', {
        session: this.id,
        pipeline: plan.pipeline,
        inputFormat: plan.inputFormat,
        audio: plan.audio,
        ingest: destinations.map((d) => d.ingest).join(','),
        ffmpegPid: ffmpeg.pid,
      });
      metric('SessionsStarted', 1, 'Count');
      this.state = 'streaming';
      this.send({ type: 'ready', session: this.id, pipeline: plan.pipeline });
      this.readyAt = Date.now();
      this.lastMediaAt = this.readyAt;
      this.watchdog = setInterval(() => this.checkTimeouts(), WATCHDOG_INTERVAL_MS);
      this.statsTimer = setInterval(() => this.sendStats(), STATS_INTERVAL_MS);
      const early = this.earlyMedia ?? [];
      this.earlyMedia = undefined;
      for (const chunk of early) this.onMedia(chunk);
    } catch (e) {
      if (e instanceof SessionError) {this.fail(e);} else {
        log('error', 'could not start session', { session: this.id, error: String(e) });
        this.fail(new SessionError('INTERNAL', 'could not start the encoder'));
      }
    }
  }

  /**
   * Checks every destination of the start message, the first one (`ingest`, `streamKey`) and those
   * in `destinations`, as one would be checked alone (docs/protocol.md#several-destinations).
   */
  private async checkDestinations(msg: StartMessage, claims: JWTPayload | undefined): Promise<Destination[]> {
    const cfg = this.host.config;
    const requested = [{ ingest: msg.ingest, streamKey: msg.streamKey }, ...(msg.destinations ?? [])];
    if (requested.length > cfg.maxDestinations) {
      throw new SessionError('BAD_REQUEST', `too many destinations (RELAY_MAX_DESTINATIONS: ${cfg.maxDestinations})`);
    }
    const destinations: Destination[] = [];
    for (const { ingest, streamKey } of requested) {
      const dest = checkDestination(ingest, streamKey, cfg.allowedIngests);
      if (!dest.ok) throw new SessionError(dest.code, dest.reason);
      const nonPublic = await nonPublicAddressProblem(dest.host);
      if (nonPublic) throw new SessionError('DESTINATION_FORBIDDEN', nonPublic);
      const unbound = bindingProblem(claims, ingest, streamKey);
      if (unbound) throw new SessionError('UNAUTHORIZED', unbound);
      if (destinations.some((d) => d.publishUrl === dest.publishUrl)) throw new SessionError('BAD_REQUEST', 'the same destination twice');
      destinations.push({ ingest: `${dest.scheme}://${dest.host}:${dest.port}`, publishUrl: dest.publishUrl, streamKey });
    }
    return destinations;
  }

  /**
   * A slot for each destination, all or none: each counts against the session limits. The first is
   * of the pipeline's kind, so a transcode counts once against RELAY_MAX_TRANSCODES.
   */
  private reserveSlots(): Slot[] | CapacityLimit {
    const { plan, destinations, holder } = this.output!;
    const slots: Slot[] = [];
    for (let i = 0; i < destinations.length; i++) {
      const slot = this.host.reserve(i === 0 ? plan.video : 'copy', holder);
      if (typeof slot === 'string') {
        for (const s of slots) s.release();
        return slot;
      }
      slots.push(slot);
    }
    return slots;
  }

  /**
   * Starts the output: one FFmpeg for one destination, or an encoder and a publisher per destination
   * (outputs/fanout.ts). The slots go back as the FFmpeg holding each is reaped (at once if none starts).
   */
  private spawn(slots: Slot[]): FfmpegProcess | Fanout {
    const cfg = this.host.config;
    const { plan, destinations, holder } = this.output!;
    const highWaterBytes = Math.min(HIGH_WATER_BYTES, cfg.maxBufferedBytes / 4);
    const lowWaterBytes = Math.min(LOW_WATER_BYTES, cfg.maxBufferedBytes / 16);
    // Assigned below; the events only ever fire after that.
    let ffmpeg: FfmpegProcess | Fanout | undefined;
    const events: FfmpegEvents = {
      onOutputOpened: () => {
        if (ffmpeg !== this.ffmpeg) return; // an earlier try's FFmpeg
        this.isLive = true;
        this.lastMediaAt = Date.now();
        if (this.state !== 'streaming' && this.state !== 'stopping') return;
        this.onLive();
      },
      onProgress: (p) => {
        // Once live, bytes are not proof of media: a client dribbling a byte a second would hold its
        // slot forever. Only FFmpeg writing more stream time is.
        if (p.outTimeUs > (this.progress?.outTimeUs ?? 0)) this.lastMediaAt = Date.now();
        this.progress = p;
      },
      onBackpressure: (backedUp) => this.setPaused(backedUp),
      onQueueChange: (bytes) => {
        if (ffmpeg === this.ffmpeg) this.host.buffers.set(this, bytes);
      },
    };
    if (destinations.length > 1) {
      ffmpeg = new Fanout({
        session: this.id,
        plan,
        destinations,
        slots,
        config: cfg,
        highWaterBytes,
        lowWaterBytes,
        delayTrace: this.host.delayTrace,
        reserve: (i) => this.host.reserve(i === 0 ? plan.video : 'copy', holder),
      }, events);
    } else {
      const [{ publishUrl, streamKey }] = destinations as [Destination];
      try {
        ffmpeg = new FfmpegProcess({
          path: cfg.ffmpegPath,
          memoryLimitMiB: cfg.ffmpegMemoryLimitMiB,
          args: ffmpegArgs(plan, publishUrl, { rwTimeoutMs: cfg.ingestStallTimeoutMs + 5000, ingestCaFile: cfg.ingestCaFile }),
          secrets: [publishUrl, streamKey],
          highWaterBytes,
          lowWaterBytes,
          delayTrace: this.host.delayTrace,
        }, events);
      } catch (e) {
        // Nothing was spawned, so the slot can go back right away.
        slots[0]!.release();
        throw e;
      }
      void ffmpeg.exited.then(() => slots[0]!.release());
    }
    this.ffmpeg = ffmpeg;
    // Each FFmpeg reads a new recording, with its own header.
    this.header = plan.inputFormat === 'matroska' ? new H264HeaderCheck() : undefined;
    const started = ffmpeg;
    void started.exited.then((exit) => {
      if (started !== this.ffmpeg) return; // an earlier try's FFmpeg, killed when it failed
      this.ffmpeg = undefined;
      this.host.buffers.set(this, 0);
      this.onFfmpegExit(exit);
    });
    return ffmpeg;
  }

  private onLive(): void {
    const now = Date.now();
    if (!this.wasLive) {
      this.wasLive = true;
      const startToLiveMs = now - this.startAt;
      log('info', 'live', { session: this.id, startToLiveMs });
      metric('StartToLiveMs', startToLiveMs, 'Milliseconds');
    } else {
      const downMs = this.outages.recovered(now);
      if (downMs !== undefined) {
        log('info', 'live again', { session: this.id, downMs, reconnects: this.outages.reconnects });
        metric('ReconnectDowntimeMs', downMs, 'Milliseconds');
      }
    }
    this.send({ type: 'live' });
  }

  /**
   * The output failed: a session that was live and whose client can start a new recording tries
   * again within RELAY_RECONNECT_WINDOW_MS (docs/protocol.md#reconnecting); any other ends with `err`.
   */
  private outputFailed(err: SessionError): void {
    if (this.reconnect && this.wasLive && this.state === 'streaming') this.beginReconnect(err);
    else this.fail(err);
  }

  private beginReconnect(err: SessionError): void {
    const next = this.outages.failed(Date.now());
    if (!next) {
      this.fail(err);
      return;
    }
    this.lastOutputFailure = err;
    const { attempt, retryInMs } = next;
    if (attempt === 1) metric('Reconnects', 1, 'Count');
    // A try that stalled or never went live still has its FFmpeg: it goes, with its slot.
    this.ffmpeg?.kill('SIGKILL');
    this.state = 'reconnecting';
    this.isLive = false;
    this.awaitingResume = false;
    this.setPaused(false);
    log('warn', 'reconnecting', { session: this.id, attempt, code: err.code, reason: err.message, retryInMs });
    this.send({ type: 'reconnecting', attempt, code: err.code, message: err.message, retryInMs });
    this.retryTimer = setTimeout(() => this.retry(), retryInMs);
  }

  /** Starts a new FFmpeg and asks the client, with `ready`, for a new recording. */
  private retry(): void {
    if (this.state !== 'reconnecting' || !this.output) return;
    const { plan } = this.output;
    // The failed try's slots went back when its FFmpeg were reaped; the relay may have filled up since.
    const slots = this.reserveSlots();
    if (typeof slots === 'string') {
      this.beginReconnect(this.unavailable(slots));
      return;
    }
    try {
      const ffmpeg = this.spawn(slots);
      log('info', 'output restarted', { session: this.id, attempt: this.outages.attempt, ffmpegPid: ffmpeg.pid });
    } catch (e) {
      log('error', 'could not restart the encoder', { session: this.id, error: String(e) });
      this.fail(new SessionError('INTERNAL', 'could not start the encoder'));
      return;
    }
    this.state = 'streaming';
    this.awaitingResume = true;
    this.mediaBytes = 0;
    // The new FFmpeg counts its dropped frames from 0.
    this.reportedDrops = 0;
    this.readyAt = Date.now();
    this.lastMediaAt = this.readyAt;
    this.send({ type: 'ready', session: this.id, pipeline: plan.pipeline });
  }

  /** The relay's media budget ran out and this session holds the most: its ingest is the slowest. */
  overBudget(): void {
    const cfg = this.host.config;
    this.fail(new SessionError('INGEST_FAILED', `ingest is not keeping up; the relay's buffered media limit (RELAY_MAX_TOTAL_BUFFERED_BYTES: ${cfg.maxTotalBufferedBytes}) was reached and this session held the most`));
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
      this.ffmpeg?.kill('SIGKILL');
      this.endCleanly();
      return;
    }
    this.setPaused(false);
    this.ffmpeg?.end();
    // Several destinations bound their own flush (outputs/fanout.ts): one that cannot finish is that
    // destination's failure, not the session's.
    if (this.ffmpeg instanceof Fanout) return;
    // FFmpeg gets as long to flush as a stalled ingest gets; then it is an ingest failure.
    this.killTimer = setTimeout(() => {
      this.fail(new SessionError('INGEST_FAILED', 'ingest did not accept the end of the stream in time'));
    }, this.host.config.ingestStallTimeoutMs);
  }

  private checkTimeouts(): void {
    if (this.state === 'reconnecting') return;
    const now = Date.now();
    const cfg = this.host.config;
    if (this.ffmpeg && now - this.ffmpeg.lastInputProgressAt > cfg.ingestStallTimeoutMs) {
      this.outputFailed(new SessionError('INGEST_FAILED', `ingest stalled for ${cfg.ingestStallTimeoutMs} ms`));
      return;
    }
    if (this.state === 'streaming' && !this.paused && now - this.lastMediaAt > cfg.mediaTimeoutMs) {
      this.fail(new SessionError('MEDIA_TIMEOUT', `no media for ${cfg.mediaTimeoutMs} ms`), true);
      return;
    }
    // A slot is worth holding only for a stream that reaches the ingest. A client that dribbles a
    // byte at a time never lets FFmpeg open its output (nor trips the media timeout), and neither does
    // an ingest that never accepts the publish: either way the slot goes back.
    if (this.state !== 'streaming' || this.isLive) return;
    // A try at reconnecting gets no longer than what is left of the window. Cut short, it has not
    // failed: the session ends with the failure that led to it.
    const windowEndsAt = this.outages.windowEndsAt;
    if (windowEndsAt !== undefined && now > windowEndsAt && this.lastOutputFailure) {
      this.fail(this.lastOutputFailure);
    } else if (now > this.readyAt + cfg.liveTimeoutMs) {
      this.outputFailed(new SessionError('INGEST_FAILED', `stream did not go live within ${cfg.liveTimeoutMs} ms`));
    }
  }

  private sendStats(): void {
    if (this.state !== 'streaming' && this.state !== 'stopping' && this.state !== 'reconnecting') return;
    const p = this.isLive ? this.progress : undefined;
    const stats = {
      bitrateKbps: round(p?.bitrateKbps ?? 0),
      fps: round(p?.fps ?? 0),
      speed: round(p?.speed ?? 0),
      droppedFrames: p?.droppedFrames ?? 0,
      bufferedBytes: this.ffmpeg?.bufferedBytes ?? 0,
      reconnects: this.outages.reconnects,
      downMs: this.outages.downMs(Date.now()),
      ...(this.ffmpeg instanceof Fanout ? { destinations: this.ffmpeg.destinations } : {}),
    };
    this.send({ type: 'stats', ...stats });
    if (p) {
      metric('IngestBitrateKbps', stats.bitrateKbps, 'Kilobits/Second');
      metric('DroppedFrames', Math.max(0, stats.droppedFrames - this.reportedDrops), 'Count');
      this.reportedDrops = stats.droppedFrames;
    }
  }

  private onFfmpegExit(exit: FfmpegExit): void {
    clearTimeout(this.killTimer);
    log(exit.exitCode === 0 ? 'info' : 'warn', 'ffmpeg exited', {
      session: this.id,
      exitCode: exit.exitCode,
      signal: exit.signal,
      killed: exit.killed,
      failure: exit.failure,
      detail: exit.detail,
      mediaBytes: this.mediaBytes,
    });
    // Registered for as long as an FFmpeg, whose argv holds them, may run: the exit line of the
    // session's last one was the last that could echo them. Otherwise the session's end forgets them.
    if (this.state === 'closed') this.forgetSecrets();
    if (this.state === 'stopping' && exit.exitCode === 0) {
      this.endCleanly();
      return;
    }
    if (this.state !== 'streaming' && this.state !== 'stopping') return;
    if (exit.outOfMemory && !exit.killed) {
      // Within -max_pixels, only hostile or broken media needs this much: it ends its own session.
      this.fail(new SessionError('UNSUPPORTED_MEDIA', 'the media needs more memory than the relay gives one encoder (RELAY_FFMPEG_MEMORY_LIMIT_MB)'));
    } else if (exit.signal !== null && !exit.killed) {
      this.outputFailed(new SessionError('INTERNAL', 'encoder crashed'));
    } else if (exit.failure === 'output' && exit.certificateRejected) {
      this.fail(new SessionError('INGEST_FAILED', 'the ingest\'s TLS certificate could not be verified'));
    } else if (exit.failure === 'output') {
      this.outputFailed(new SessionError('INGEST_FAILED', 'ingest refused or dropped the connection'));
    } else if (exit.failure === 'input' || exit.exitCode === 0) {
      // A clean exit before `stop` means the demuxer gave up on the input.
      this.fail(new SessionError('UNSUPPORTED_MEDIA', 'the encoder could not read the media'));
    } else {
      this.fail(new SessionError('INTERNAL', 'encoder failed'));
    }
  }

  private endCleanly(): void {
    this.state = 'closed';
    this.clearTimers();
    clearTimeout(this.killTimer);
    this.send({ type: 'ended' });
    this.ws.close(1000, 'ended');
    log('info', 'session ended', { session: this.id, reason: this.stopReason, mediaBytes: this.mediaBytes });
    // With an FFmpeg still running (killed, not yet reaped), its exit forgets them.
    if (!this.ffmpeg) this.forgetSecrets();
  }

  /**
   * Ends the session with an error frame and its close code, then stops FFmpeg: killed at once,
   * or (graceful) given its stdin's end and a grace period to finish what it has.
   */
  private fail(err: SessionError, graceful = false): void {
    if (this.state === 'closed') return;
    const started = this.state === 'streaming' || this.state === 'stopping' || this.state === 'reconnecting';
    this.state = 'closed';
    this.clearTimers();
    this.leavePending();
    log(err.code === 'INTERNAL' ? 'error' : 'warn', 'session failed', {
      session: this.id, code: err.code, closeCode: err.closeCode, reason: err.message, started,
    });
    metric('SessionsFailed', 1, 'Count', { Code: err.code });
    this.send({ type: 'error', code: err.code, message: err.message });
    try {
      this.ws.close(CLOSE_CODES[err.code], err.code);
    } catch {
      // already closed
    }
    this.finishFfmpeg(graceful);
  }

  private finishFfmpeg(graceful: boolean): void {
    const ffmpeg = this.ffmpeg;
    if (!ffmpeg) {
      // No FFmpeg holds the secrets (and no slot was kept): the session is over.
      this.forgetSecrets();
      return;
    }
    if (graceful) {
      ffmpeg.end();
      this.killTimer = setTimeout(() => ffmpeg.kill('SIGKILL'), this.host.config.ingestStallTimeoutMs);
    } else {
      ffmpeg.kill('SIGKILL');
    }
  }

  /** Gives back the connection's place among those waiting to start, if it still holds one. */
  private leavePending(): void {
    this.pending?.release();
    this.pending = undefined;
  }

  /** The 4013 for a limit, saying which one (docs/protocol.md#close-codes). */
  private unavailable(limit: CapacityLimit | PendingLimit): SessionError {
    const cfg = this.host.config;
    const message = {
      'sessions': 'relay is at capacity; try another relay',
      'transcodes': 'relay is at capacity; try another relay',
      'sessions-per-address': `too many sessions from this address (RELAY_MAX_SESSIONS_PER_ADDRESS: ${cfg.maxSessionsPerAddress}); try another relay`,
      'sessions-per-subject': `too many sessions for this token's subject (RELAY_MAX_SESSIONS_PER_SUBJECT: ${cfg.maxSessionsPerSubject})`,
      'pending': `too many connections waiting to start (RELAY_MAX_PENDING_CONNECTIONS: ${cfg.maxPendingConnections}); try another relay`,
      'pending-per-address': `too many connections waiting to start from this address (RELAY_MAX_PENDING_PER_ADDRESS: ${cfg.maxPendingPerAddress}); try another relay`,
    }[limit];
    return new SessionError('UNAVAILABLE', message);
  }

  /** Ends this session's registration of its token, stream key and publish URL for redaction. */
  private forgetSecrets(): void {
    forgetSecrets(this.id);
  }

  private clearTimers(): void {
    clearTimeout(this.startTimer);
    clearInterval(this.watchdog);
    clearInterval(this.statsTimer);
    clearTimeout(this.retryTimer);
    // killTimer is kept: it is what guarantees FFmpeg ends after a graceful finish.
  }

  private send(msg: ServerMessage): void {
    if (this.ws.readyState !== 1) return;
    this.ws.send(JSON.stringify(msg));
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
