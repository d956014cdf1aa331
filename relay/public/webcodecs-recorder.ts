/**
 * The WebCodecs capture path (docs/embedding.md#capture-paths): the browser's `VideoEncoder`
 * (H.264, real-time, constant bitrate, a key frame every 2 s of stream time) and `AudioEncoder`
 * (AAC where the browser has it, else Opus), muxed into live Matroska by mediabunny. It speaks the
 * `Recorder` interface, so a connection leg runs it exactly like a `MediaRecorder`.
 *
 * Why: Firefox and Safari's MediaRecorder record VP8 or pick their own key frames and bitrate;
 * through WebCodecs every modern browser sends H.264 the relay copies, with IVS's key frame rule
 * kept by the browser, and each group of frames leaves as soon as it is muxed.
 */

import type * as Mediabunny from 'mediabunny';
import { claimEncoder, type BitrateControl } from './adjustable-video-encoder.js';
import { cleanAvcConfig } from './avc-config.js';
import type { Recorder } from './recorder.js';
import type { WebCodecsFormat } from './webcodecs-format.js';

/** The mediabunny module, as `import('mediabunny')` gives it. */
export type MediabunnyModule = typeof Mediabunny;

/**
 * mediabunny's browser bundle, served by the relay beside this file (relay/src/vendor.ts). Loaded
 * only when this path is chosen: a page that records with MediaRecorder never downloads it.
 */
const MEDIABUNNY_URL = new URL('./vendor/mediabunny.js', import.meta.url).href;

let loading: Promise<MediabunnyModule> | undefined;

/** Loads mediabunny once, from the relay's `vendor/` folder. */
export function loadMediabunny(): Promise<MediabunnyModule> {
  loading ??= import(MEDIABUNNY_URL) as Promise<MediabunnyModule>;
  loading.catch(() => (loading = undefined));
  return loading;
}

/** Options of a {@link WebCodecsRecorder}. */
export interface WebCodecsRecorderOptions {
  readonly format: WebCodecsFormat;
  readonly videoBitsPerSecond: number;
  readonly audioBitsPerSecond: number;
  /** @default 2000 */
  readonly keyFrameIntervalMs?: number;
  /** The rate the video track is sampled at: a constant frame rate, whatever the camera delivers. */
  readonly frameRate: number;
  /**
   * How long a recording may take to start: the muxer started and a first video frame encoded with
   * a valid H.264 header. Past it the recording fails with a {@link CaptureStartError}. @default 10000
   */
  readonly startTimeoutMs?: number;
}

/**
 * A WebCodecs recording that could not start: what did not start, in its message (the H.264
 * encoder, the audio capture, the muxer), or an H.264 header that could not be made valid.
 */
export class CaptureStartError extends Error {
  override readonly name = 'CaptureStartError';
}

/**
 * Whether the browser's audio capture for WebCodecs needs an `AudioContext`: without
 * `MediaStreamTrackProcessor` (Firefox, Safari) mediabunny reads the microphone through one, and an
 * `AudioContext` starts only where autoplay rules allow it and an audio output device exists.
 */
export function audioNeedsAudioContext(): boolean {
  return typeof (globalThis as { MediaStreamTrackProcessor?: unknown }).MediaStreamTrackProcessor === 'undefined';
}

type TrackSource = Mediabunny.MediaStreamVideoTrackSource | Mediabunny.MediaStreamAudioTrackSource;

/** One recording: its output, its sources and the bytes muxed but not yet handed on. */
interface Take {
  readonly output: Mediabunny.Output;
  readonly sources: TrackSource[];
  readonly pending: Uint8Array<ArrayBuffer>[];
  /** Removes the take's track listeners when it ends. */
  readonly done: AbortController;
  /** Where the next write must land: appendOnly Matroska never seeks back. */
  position: number;
  flushQueued: boolean;
  /** Set once the muxer started and the first video frame was encoded with a valid header. */
  readonly started: Deferred;
  muxerStarted: boolean;
  videoPackets: number;
  audioPackets: number;
  /** Where the last audio packet ended (s): the earliest the next may start. */
  audioEnd: number;
  /** An AAC frame's duration (s): 1024 samples at the encoder's rate, from its first decoder configuration. */
  aacFrame: number | undefined;
  /** True once the first decoder configuration was checked (and repaired if it had to be). */
  headerChecked: boolean;
  /** True once `started` resolved. */
  hasStarted: boolean;
  startTimer: ReturnType<typeof setTimeout> | undefined;
  /** The running video encoder's bitrate, once mediabunny created it. */
  bitrate: BitrateControl | undefined;
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/**
 * A `MediaRecorder` look-alike on WebCodecs. Like `MediaRecorder` it can be started again after a
 * stop (a new recording with its own header), its state is `inactive` as soon as `stop()` returns,
 * and the last `dataavailable` comes before `stop`. Unlike it, chunks leave as the muxer writes
 * them rather than per timeslice.
 */
export class WebCodecsRecorder implements Recorder {
  ondataavailable: ((event: BlobEvent) => void) | null = null;
  onerror: ((event: ErrorEvent) => void) | null = null;
  onstop: ((event: Event) => void) | null = null;
  readonly mimeType: string;
  private current: RecordingState = 'inactive';
  /** The recording in progress (or finishing); a late write of an older one is dropped. */
  private take: Take | undefined;
  /** The video bitrate of the running recording and of the next one. */
  private videoBps: number;

  constructor(
    private readonly mediabunny: MediabunnyModule,
    private readonly stream: MediaStream,
    private readonly options: WebCodecsRecorderOptions,
  ) {
    this.mimeType = options.format.mimeType;
    this.videoBps = options.videoBitsPerSecond;
  }

  get state(): RecordingState {
    return this.current;
  }

  /** Starts a new recording. The timeslice is accepted for `MediaRecorder`'s sake and not needed. */
  start(_timeslice?: number): void {
    if (this.current !== 'inactive') throw new DOMException('The recorder is already recording.', 'InvalidStateError');
    const [video] = this.stream.getVideoTracks();
    const [audio] = this.stream.getAudioTracks();
    if (!video || video.readyState === 'ended') throw new DOMException('The stream has no live video track.', 'NotSupportedError');
    const { Output, MkvOutputFormat, StreamTarget, MediaStreamVideoTrackSource, MediaStreamAudioTrackSource, Quality } = this.mediabunny;
    const { format, frameRate } = this.options;

    let take!: Take;
    const target = new StreamTarget(new WritableStream({ write: (chunk) => this.onWrite(take, chunk) }));
    const output = new Output({ format: new MkvOutputFormat({ appendOnly: true }), target });
    take = {
      output,
      sources: [],
      pending: [],
      done: new AbortController(),
      position: 0,
      flushQueued: false,
      started: deferred(),
      muxerStarted: false,
      videoPackets: 0,
      audioPackets: 0,
      audioEnd: 0,
      aacFrame: undefined,
      headerChecked: false,
      hasStarted: false,
      startTimer: undefined,
      bitrate: undefined,
    };
    // Settled by the take; a caller that never asks must not see an unhandled rejection.
    take.started.promise.catch(() => undefined);
    const videoSource = new MediaStreamVideoTrackSource(
      video,
      {
        codec: 'avc',
        fullCodecString: format.videoCodec,
        quality: new Quality({ bitrate: Math.round(this.videoBps), bitrateMode: 'constant' }),
        latencyMode: 'realtime',
        keyFrameInterval: (this.options.keyFrameIntervalMs ?? 2000) / 1000,
        // A camera that changes resolution mid-stream is letterboxed into the first frame's size.
        sizeChangeBehavior: 'contain',
        // Called with each packet and its metadata just before mediabunny hands the same two to
        // the muxer: the place to check the H.264 header (avc-config.ts) the muxer will write.
        onEncodedPacket: (packet, meta) => this.onVideoPacket(take, packet, meta),
        // The encoder mediabunny creates for this recording is one whose bitrate can change in
        // place (adjustable-video-encoder.ts); a change asked before it existed applies at once.
        onEncoderConfig: claimEncoder(this.mediabunny, (control) => {
          take.bitrate = control;
          control.setBitrate(this.videoBps);
        }),
      },
      { frameRate },
    );
    output.addVideoTrack(videoSource, { frameRate });
    take.sources.push(videoSource);
    if (audio && format.audioCodec) {
      const quality = new Quality({ bitrate: Math.round(this.options.audioBitsPerSecond) });
      const onEncodedPacket = (packet: Mediabunny.EncodedPacket, meta?: EncodedAudioChunkMetadata) => this.onAudioPacket(take, packet, meta);
      const audioSource = new MediaStreamAudioTrackSource(audio, { codec: format.audioCodec, quality, onEncodedPacket });
      output.addAudioTrack(audioSource);
      take.sources.push(audioSource);
    }
    this.take = take;
    this.current = 'recording';
    for (const source of take.sources) source.errorPromise.catch((error: unknown) => this.fail(take, error));
    // MediaRecorder stops with an error when a track goes away while recording; so does this.
    for (const track of [video, audio]) {
      track?.addEventListener('ended', () => {
        if (this.current === 'recording') this.fail(take, new Error(`the ${track.kind} track ended`));
      }, { once: true, signal: take.done.signal });
    }
    const startTimeoutMs = this.options.startTimeoutMs ?? 10_000;
    const hasAudio = Boolean(audio && format.audioCodec);
    take.startTimer = setTimeout(() => this.fail(take, new CaptureStartError(this.notStarted(take, startTimeoutMs, hasAudio))), startTimeoutMs);
    output.start().then(
      () => {
        take.muxerStarted = true;
        this.checkStarted(take);
      },
      (error: unknown) => this.fail(take, new CaptureStartError(`The WebCodecs muxer did not start: ${error instanceof Error ? error.message : String(error)}`)),
    );
  }

  /**
   * Resolves once the current recording has started (muxer started, a first video frame encoded
   * with a valid H.264 header); rejects with why it did not, within `startTimeoutMs`.
   */
  whenStarted(): Promise<void> {
    return this.take?.started.promise ?? Promise.reject(new CaptureStartError('The WebCodecs recorder is not recording.'));
  }

  /** Ends a recording whose output nobody wants (a trial start): no more events, nothing finalized. */
  discard(): void {
    const take = this.take;
    this.take = undefined;
    this.current = 'inactive';
    if (!take) return;
    clearTimeout(take.startTimer);
    take.done.abort();
    void take.output.cancel().catch(() => undefined);
  }

  /** What did not start, for the error after `startTimeoutMs`. */
  private notStarted(take: Take, timeoutMs: number, hasAudio: boolean): string {
    const within = `within ${timeoutMs / 1000} s`;
    if (take.videoPackets === 0) return `The browser's H.264 encoder (VideoEncoder) produced no frame ${within}.`;
    if (!take.muxerStarted && hasAudio && take.audioPackets === 0) {
      return audioNeedsAudioContext()
        ? `The audio capture did not start ${within}: the browser's AudioContext stayed suspended (no audio output device, or audio not allowed before a click on the page).`
        : `The browser's audio encoder (AudioEncoder) produced nothing ${within}.`;
    }
    return `The WebCodecs muxer did not start ${within}.`;
  }

  /** Checks (and repairs) the H.264 header before the muxer writes it; counts frames. */
  private onVideoPacket(take: Take, packet: Mediabunny.EncodedPacket, meta: EncodedVideoChunkMetadata | undefined): void {
    take.videoPackets++;
    const description = meta?.decoderConfig?.description;
    if (!take.headerChecked && description) {
      take.headerChecked = true;
      const bytes = ArrayBuffer.isView(description)
        ? new Uint8Array(description.buffer, description.byteOffset, description.byteLength)
        : new Uint8Array(description);
      const result = cleanAvcConfig(bytes, packet.type === 'key' ? packet.data : undefined);
      if (result.kind === 'invalid') {
        this.fail(take, new CaptureStartError(`The browser's H.264 encoder gave a header the relay cannot pass on: ${result.reason}.`));
        return;
      }
      // The muxer reads this same metadata object right after this callback returns (mediabunny
      // 1.61; the Firefox end-to-end test's avcC check fails if that ever changes).
      if (result.kind === 'repaired') meta!.decoderConfig = { ...meta!.decoderConfig!, description: result.record };
    }
    this.checkStarted(take);
  }

  /**
   * Keeps audio timestamps increasing. WebKitGTK's AAC encoder stamps every frame it makes from one
   * input buffer with that buffer's timestamp and duration (four 1024-sample frames, one time, each
   * 93 ms long): copied into FLV they are packets with the same decode time, which decoders reject.
   * An AAC packet is as long as its 1024 samples; one that starts before the previous one ended is
   * moved to that end. mediabunny (1.61) hands the muxer this same packet object right after this
   * callback; the WebKitGTK end-to-end test's clean decode fails if that ever changes.
   */
  private onAudioPacket(take: Take, packet: Mediabunny.EncodedPacket, meta: EncodedAudioChunkMetadata | undefined): void {
    take.audioPackets++;
    const rate = meta?.decoderConfig?.sampleRate;
    if (take.aacFrame === undefined && this.options.format.audioCodec === 'aac' && rate) take.aacFrame = 1024 / rate;
    const fixed = packet as { timestamp: number; duration: number };
    if (take.aacFrame !== undefined) fixed.duration = take.aacFrame;
    if (take.audioPackets > 1 && packet.timestamp < take.audioEnd - 1e-6) fixed.timestamp = take.audioEnd;
    take.audioEnd = packet.timestamp + packet.duration;
  }

  private checkStarted(take: Take): void {
    if (this.take !== take || !take.muxerStarted || !take.headerChecked) return;
    clearTimeout(take.startTimer);
    take.hasStarted = true;
    take.started.resolve();
  }

  /** Ends the recording: the muxer writes what it holds, then the last `dataavailable` and `stop` fire. */
  stop(): void {
    const take = this.take;
    if (this.current === 'inactive' || !take) return;
    this.current = 'inactive';
    clearTimeout(take.startTimer);
    take.done.abort();
    let finishTimer: ReturnType<typeof setTimeout> | undefined;
    const end = () => {
      clearTimeout(finishTimer);
      if (this.take !== take) return;
      this.flush(take);
      this.take = undefined;
      this.onstop?.(new Event('stop'));
    };
    if (!take.hasStarted) {
      // A muxer that never started may never finish either (it waits for a source that never
      // delivered): nothing of it is worth waiting for.
      take.started.reject(new CaptureStartError('The recording was stopped before it started.'));
      void take.output.cancel().catch(() => undefined);
      setTimeout(end, 0);
      return;
    }
    // Bounded like the start: a muxer that does not finish must not hold the leg's stop for ever.
    const limitMs = this.options.startTimeoutMs ?? 10_000;
    finishTimer = setTimeout(() => this.fail(take, new Error(`the WebCodecs muxer did not finish within ${limitMs / 1000} s`)), limitMs);
    take.output.finalize().then(end, (error: unknown) => {
      clearTimeout(finishTimer);
      this.fail(take, error);
    });
  }

  /**
   * Changes the video bitrate in place: the running encoder takes it for the next frames (same
   * recording, same key frame rhythm), and a later recording starts with it.
   */
  setVideoBitrate(bitsPerSecond: number): void {
    this.videoBps = bitsPerSecond;
    this.take?.bitrate?.setBitrate(bitsPerSecond);
  }

  dropFrames(drop: boolean): void {
    // A paused source drops frames before the encoder and closes the gap in its timestamps, so the
    // recording stays continuous and decodable.
    for (const source of this.take?.sources ?? []) {
      if (drop) source.pause();
      else source.resume();
    }
  }

  private onWrite(take: Take, chunk: Mediabunny.StreamTargetChunk): void {
    if (this.take !== take) return;
    if (chunk.position !== take.position) {
      this.fail(take, new Error(`the muxer wrote at byte ${chunk.position}, not at the end (${take.position})`));
      return;
    }
    take.position += chunk.data.byteLength;
    take.pending.push(chunk.data);
    // The writes of one muxer flush leave as one message.
    if (!take.flushQueued) {
      take.flushQueued = true;
      setTimeout(() => this.flush(take), 0);
    }
  }

  private flush(take: Take): void {
    take.flushQueued = false;
    if (this.take !== take || take.pending.length === 0) return;
    const data = new Blob(take.pending.splice(0), { type: this.mimeType });
    this.ondataavailable?.(new BlobEvent('dataavailable', { data }));
  }

  /** Ends the recording with an error, as MediaRecorder does: `error`, then `stop`. */
  private fail(take: Take, error: unknown): void {
    if (this.take !== take) return;
    clearTimeout(take.startTimer);
    take.started.reject(error);
    this.take = undefined;
    this.current = 'inactive';
    take.done.abort();
    void take.output.cancel().catch(() => undefined);
    this.onerror?.(new ErrorEvent('error', { error, message: error instanceof Error ? error.message : String(error) }));
    this.onstop?.(new Event('stop'));
  }
}
