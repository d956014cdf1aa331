import type { FileSink, Subprocess } from 'bun';
import type { DelayTrace } from './delay-trace.ts';

/** The latest numbers from FFmpeg's `-progress` output that `stats` reports (docs/protocol.md#messages-from-the-relay). */
export interface FfmpegProgress {
  fps: number;
  bitrateKbps: number;
  speed: number;
  droppedFrames: number;
  /** How much media FFmpeg has written to the output, in stream time (µs): it grows only while media reaches the ingest. */
  outTimeUs: number;
}

/** Which side of FFmpeg failed, judged from its error lines. */
export type FailureSide = 'input' | 'output' | 'unknown';

/** How an FFmpeg process ended. */
export interface FfmpegExit {
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** True when the relay itself killed the process. */
  readonly killed: boolean;
  /** The side that failed, from the error lines at the exit (see {@link failureCause}); `undefined` when none did. */
  readonly failure?: FailureSide;
  /** A short, redacted description of the failure's first error line of that side; safe to log. */
  readonly detail?: string;
  /** FFmpeg's TLS layer refused the ingest's certificate (untrusted chain or wrong host name). */
  readonly certificateRejected: boolean;
  /** An allocation failed: the process reached its memory limit. */
  readonly outOfMemory: boolean;
}

/** Callbacks from a running FFmpeg. */
export interface FfmpegEvents {
  /** FFmpeg connected to the ingest and wrote the stream header. */
  onOutputOpened(): void;
  onProgress(progress: FfmpegProgress): void;
  /** `true` when queued input crosses the high-water mark, `false` when it falls below the low one. */
  onBackpressure(backedUp: boolean): void;
  /** The bytes queued for stdin changed (see {@link FfmpegProcess.bufferedBytes}). */
  onQueueChange(bufferedBytes: number): void;
}

/** Options for {@link FfmpegProcess}. */
export interface FfmpegOptions {
  readonly path: string;
  readonly args: string[];
  /** RLIMIT_AS for the process, in MiB; 0: none. */
  readonly memoryLimitMiB: number;
  /**
   * FFmpeg's output on stdout, for an FFmpeg that writes its stream there (the encoder of a session
   * with several destinations); its progress report then comes on stderr (`-progress pipe:2`).
   */
  readonly onStdout?: (chunk: Uint8Array) => void;
  /**
   * Whether the process holds a capacity slot: every FFmpeg that publishes to an ingest does. The
   * slot invariant (invariant.ts) compares those with the slots held. @default true
   */
  readonly holdsSlot?: boolean;
  /** Redacted out of anything kept from stderr. */
  readonly secrets: string[];
  readonly highWaterBytes: number;
  readonly lowWaterBytes: number;
  /** Told when each frame is queued and when the pipe has taken it; only with `RELAY_DELAY_TRACE_FILE`. */
  readonly delayTrace?: DelayTrace;
}

const OUTPUT_CONTEXTS = new Set(['tcp', 'tls', 'rtmp', 'rtmps', 'rtmpt', 'rtmpe']);
const INPUT_CONTEXTS = /^(matroska,webm|mov,mp4,m4a,3gp,3g2,mj2|h264|hevc|vp8|vp9|av1|libdav1d|opus|libopus|aac|vorbis|pcm_.*)$/;
const RANK: Record<FailureSide, number> = { unknown: 0, input: 1, output: 2 };
/** FFmpeg exits right after the error that ends it: lines this close to the exit are the failure's own. */
export const FAILURE_WINDOW_MS = 2000;
const ERROR_LINES_KEPT = 64;

/** One `error`, `fatal` or `panic` line of FFmpeg's, classified and redacted as it arrived. */
export interface ErrorLine {
  /** `performance.now()` when it was read. */
  readonly at: number;
  /** `fatal` or `panic`: FFmpeg gives up. */
  readonly fatal: boolean;
  readonly side: FailureSide;
  readonly detail: string;
}

/**
 * Why FFmpeg failed, from its error lines and the moment it exited: the lines logged within
 * {@link FAILURE_WINDOW_MS} of the exit, else the last fatal line; never an error FFmpeg logged and
 * lived through (a decoder's complaint about a header at the start of a stream that fails an hour
 * later for another reason). Among the failure's lines, output errors outrank input errors (once
 * the ingest failed, the input side only follows) and input errors outrank unclassified ones;
 * within a side the first line is the cause (e.g. the tls layer's reason) and later ones its echoes
 * up the stack ("Input/output error"). Undefined when no line qualifies.
 */
export function failureCause(lines: readonly ErrorLine[], exitedAt: number): { side: FailureSide; detail: string } | undefined {
  let pool = lines.filter((l) => l.at >= exitedAt - FAILURE_WINDOW_MS);
  if (pool.length === 0) pool = lines.filter((l) => l.fatal).slice(-1);
  let cause: ErrorLine | undefined;
  for (const line of pool) if (cause === undefined || RANK[line.side] > RANK[cause.side]) cause = line;
  return cause && { side: cause.side, detail: cause.detail };
}
const LINE_RE = /^(?:\[([^\]]+?) @ 0x[0-9a-f]+\] )?\[(\w+)\] (.*)$/;

const running = new Set<FfmpegProcess>();

/**
 * FFmpeg's whole environment (docs/pipeline.md#ffmpegs-environment): `PATH` and nothing else. The
 * relay's own environment holds secrets (`RELAY_AUTH_SECRET`, `RELAY_TLS_KEY`, the ECS task role's
 * `AWS_CONTAINER_CREDENTIALS_*`) that anyone able to read `/proc/<pid>/environ` of a child could
 * take, and variables that FFmpeg or GnuTLS act on: `FFREPORT` writes a report holding FFmpeg's
 * command line (so the publish URL) to a file, `SSLKEYLOGFILE` writes TLS session keys. FFmpeg needs
 * no `HOME`, locale or proxy settings for what the relay asks of it.
 */
export function ffmpegEnvironment(env: Record<string, string | undefined> = process.env): Record<string, string> {
  return env.PATH === undefined ? {} : { PATH: env.PATH };
}

/** FFmpeg processes that hold a slot, spawned and not yet reaped: what the slot invariant (invariant.ts) compares with the slots held. */
export function runningFfmpegCount(): number {
  let n = 0;
  for (const p of running) if (p.holdsSlot) n++;
  return n;
}

/**
 * Kills every FFmpeg child still running. For the relay's own exit path: children must never
 * outlive the relay (they would also end by themselves, on the end of their stdin).
 */
export function killAllFfmpeg(): number {
  for (const p of running) p.kill('SIGKILL');
  return running.size;
}

/**
 * One FFmpeg child fed through stdin. Writes are queued and written one at a time, awaiting the
 * pipe whenever it is full, so the queue length is exactly what FFmpeg has not taken yet.
 */
export class FfmpegProcess {
  private readonly proc: Subprocess<'pipe', 'pipe', 'pipe'>;
  /** Resolves once the process has exited and its output was read (the child is reaped). */
  readonly exited: Promise<FfmpegExit>;
  private readonly sink: FileSink;
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  private pumping = false;
  private endRequested = false;
  private stdinClosed = false;
  private backedUp = false;
  private killedByUs = false;
  private outputOpened = false;
  /** FFmpeg's error lines, newest last (at most ERROR_LINES_KEPT): the cause is read from them at exit. */
  private readonly errors: ErrorLine[] = [];
  private certificateRejected = false;
  private outOfMemory = false;
  private lastInputAt = Date.now();
  private readonly spawnedAt = performance.now();
  private readonly progress: FfmpegProgress = { fps: 0, bitrateKbps: 0, speed: 0, droppedFrames: 0, outTimeUs: 0 };
  /** Bytes FFmpeg has written to the output so far, from the progress report. */
  private outputBytes = 0;

  /**
   * Spawns FFmpeg.
   * @throws Error when the executable cannot be started
   */
  constructor(private readonly opts: FfmpegOptions, private readonly events: FfmpegEvents) {
    // With `env` given, Bun also looks a bare command name up on that PATH: the relay's own. prlimit
    // sets the limit on itself and execs FFmpeg in place: same process, so the pid, the pipes and
    // the exit status are FFmpeg's.
    const env = ffmpegEnvironment();
    let command = [opts.path, ...opts.args];
    if (opts.memoryLimitMiB > 0) {
      // Looked up here, so that a missing FFmpeg fails to start as it would without prlimit.
      const ffmpeg = Bun.which(opts.path, { PATH: env.PATH ?? '' });
      if (ffmpeg === null) throw new Error(`${opts.path} not found`);
      command = ['prlimit', `--as=${opts.memoryLimitMiB * 1024 * 1024}`, '--', ffmpeg, ...opts.args];
    }
    this.proc = Bun.spawn(command, { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', env });
    this.sink = this.proc.stdin;
    running.add(this);
    const stdout = opts.onStdout ? this.readChunks(this.proc.stdout, opts.onStdout) : this.readLines(this.proc.stdout, (l) => this.onProgressLine(l));
    // With `-loglevel level+info` every log line has a `[level]`; progress lines (`key=value`) have none.
    const stderr = this.readLines(this.proc.stderr, (l) => (opts.onStdout && !l.includes('[') ? this.onProgressLine(l) : this.onLogLine(l)));
    let exitedAt = Number.POSITIVE_INFINITY;
    void this.proc.exited.then(() => (exitedAt = performance.now()));
    this.exited = Promise.all([this.proc.exited, stdout, stderr]).then((): FfmpegExit => {
      running.delete(this);
      const cause = failureCause(this.errors, exitedAt);
      return {
        exitCode: this.proc.exitCode,
        signal: this.proc.signalCode === null ? null : String(this.proc.signalCode),
        killed: this.killedByUs,
        failure: cause?.side,
        detail: cause?.detail,
        certificateRejected: this.certificateRejected,
        outOfMemory: this.outOfMemory,
      };
    });
  }

  /** See {@link FfmpegOptions.holdsSlot}. */
  get holdsSlot(): boolean {
    return this.opts.holdsSlot ?? true;
  }

  /** The process id, for the `session ready` log line. */
  get pid(): number {
    return this.proc.pid;
  }

  /** Bytes received from the client that FFmpeg has not read yet. */
  get bufferedBytes(): number {
    return this.queued;
  }

  /** When FFmpeg last took input from the pipe, or when the backlog was last empty. */
  get lastInputProgressAt(): number {
    return this.queued === 0 ? Date.now() : this.lastInputAt;
  }

  /** Queues one chunk for FFmpeg's stdin. Ignored once stdin is closing. */
  write(chunk: Uint8Array): void {
    if (this.endRequested || this.stdinClosed || chunk.byteLength === 0) return;
    if (this.queued === 0) this.lastInputAt = Date.now();
    this.opts.delayTrace?.frameQueued(chunk, this.spawnedAt);
    this.queue.push(chunk);
    this.queued += chunk.byteLength;
    this.events.onQueueChange(this.queued);
    if (!this.backedUp && this.queued > this.opts.highWaterBytes) {
      this.backedUp = true;
      this.events.onBackpressure(true);
    }
    void this.pump();
  }

  /** Closes stdin once the queue is written, so FFmpeg flushes and exits by itself. */
  end(): void {
    this.endRequested = true;
    void this.pump();
  }

  /** Signals the process (default SIGKILL); the exit then counts as the relay's doing. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.killedByUs = true;
    this.proc.kill(signal);
    // A killed FFmpeg reads nothing more: what waits for it is memory to give back now.
    if (signal === 'SIGKILL') this.dropQueue();
  }

  private dropQueue(): void {
    this.queue.length = 0;
    this.queued = 0;
    this.events.onQueueChange(0);
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0 && !this.stdinClosed) {
        const chunk = this.queue[0]!;
        const written = this.sink.write(chunk);
        const pending = typeof written === 'number' ? this.sink.flush() : written;
        if (pending !== undefined && typeof pending !== 'number') await pending;
        if (this.queue[0] !== chunk) break; // the queue was dropped meanwhile (kill)
        this.opts.delayTrace?.frameTaken(chunk);
        this.queue.shift();
        this.queued -= chunk.byteLength;
        this.events.onQueueChange(this.queued);
        this.lastInputAt = Date.now();
        if (this.backedUp && this.queued <= this.opts.lowWaterBytes) {
          this.backedUp = false;
          this.events.onBackpressure(false);
        }
      }
      if (this.endRequested && !this.stdinClosed) {
        this.stdinClosed = true;
        await this.sink.end();
      }
    } catch {
      // EPIPE: FFmpeg is gone or closed its input; its exit tells the session why.
      this.stdinClosed = true;
      this.dropQueue();
    } finally {
      this.pumping = false;
    }
  }

  private async readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of stream) {
        buffer += decoder.decode(chunk, { stream: true });
        // FFmpeg ends stats lines with \r; both end a line here.
        const lines = buffer.split(/\r\n|\r|\n/);
        buffer = lines.pop() ?? '';
        // A runaway line without a break is cut rather than buffered without bound.
        if (buffer.length > 16_384) buffer = '';
        for (const line of lines) if (line.length > 0) onLine(line);
      }
    } catch {
      // The pipe closes with the process; nothing to do.
    }
    if (buffer.length > 0) onLine(buffer);
  }

  private async readChunks(stream: ReadableStream<Uint8Array>, onChunk: (chunk: Uint8Array) => void): Promise<void> {
    try {
      for await (const chunk of stream) onChunk(chunk);
    } catch {
      // The pipe closes with the process; nothing to do.
    }
  }

  private onProgressLine(line: string): void {
    const eq = line.indexOf('=');
    if (eq < 0) return;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    const num = Number.parseFloat(value);
    const n = Number.isFinite(num) ? num : 0;
    switch (key) {
      case 'fps': this.progress.fps = n; break;
      case 'bitrate': this.progress.bitrateKbps = n; break;
      case 'speed': this.progress.speed = n; break;
      case 'drop_frames': this.progress.droppedFrames = n; break;
      case 'out_time_us': this.progress.outTimeUs = n; break;
      case 'total_size': this.outputBytes = n; break;
      case 'progress':
        if (!this.outputOpened && this.outputBytes > 0) this.markOutputOpened();
        this.events.onProgress({ ...this.progress });
        break;
      default: break;
    }
  }

  private onLogLine(line: string): void {
    // Checked on the raw line: x264 prints its own, without FFmpeg's level prefix.
    if (/Cannot allocate memory|malloc of size \d+ failed|out of memory/i.test(line)) this.outOfMemory = true;
    const m = LINE_RE.exec(line);
    if (!m) return;
    const context = m[1] ?? '';
    const level = m[2]!;
    const text = m[3]!;
    if (level === 'info') {
      if (text.startsWith('Output #0')) this.markOutputOpened();
      return;
    }
    if (level !== 'error' && level !== 'fatal' && level !== 'panic') return;
    if (context === 'tls' && /certificate/i.test(text)) this.certificateRejected = true;
    this.errors.push({
      at: performance.now(),
      fatal: level !== 'error',
      side: this.classify(context, text),
      detail: this.redact(`${context ? `${context}: ` : ''}${text}`),
    });
    if (this.errors.length > ERROR_LINES_KEPT) this.errors.shift();
  }

  private classify(context: string, text: string): FailureSide {
    if (OUTPUT_CONTEXTS.has(context) || /rtmps?:\/\//i.test(text)) return 'output';
    if (/av_interleaved_write_frame|Error writing trailer|Error muxing|Broken pipe|Connection reset|Connection refused/i.test(text)) {
      return 'output';
    }
    if (context === 'flv') return /not compatible|not supported|codec/i.test(text) ? 'input' : 'output';
    if (INPUT_CONTEXTS.test(context) || /pipe:0|Invalid data found|EBML|moov atom|Error while decoding|could not find codec|exceeds specified max pixel count/i.test(text)) {
      return 'input';
    }
    return 'unknown';
  }

  private redact(text: string): string {
    let out = text.replace(/rtmps?:\/\/\S+/gi, '<ingest>');
    for (const s of this.opts.secrets) if (s.length >= 3) out = out.split(s).join('[redacted]');
    return out.slice(0, 200);
  }

  private markOutputOpened(): void {
    if (this.outputOpened) return;
    this.outputOpened = true;
    this.events.onOutputOpened();
  }
}
