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

  constructor(
    private readonly mediabunny: MediabunnyModule,
    private readonly stream: MediaStream,
    private readonly options: WebCodecsRecorderOptions,
  ) {
    this.mimeType = options.format.mimeType;
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
    take = { output, sources: [], pending: [], done: new AbortController(), position: 0, flushQueued: false };
    const videoSource = new MediaStreamVideoTrackSource(
      video,
      {
        codec: 'avc',
        fullCodecString: format.videoCodec,
        quality: new Quality({ bitrate: Math.round(this.options.videoBitsPerSecond), bitrateMode: 'constant' }),
        latencyMode: 'realtime',
        keyFrameInterval: (this.options.keyFrameIntervalMs ?? 2000) / 1000,
        // A camera that changes resolution mid-stream is letterboxed into the first frame's size.
        sizeChangeBehavior: 'contain',
      },
      { frameRate },
    );
    output.addVideoTrack(videoSource, { frameRate });
    take.sources.push(videoSource);
    if (audio && format.audioCodec) {
      const quality = new Quality({ bitrate: Math.round(this.options.audioBitsPerSecond) });
      const audioSource = new MediaStreamAudioTrackSource(audio, { codec: format.audioCodec, quality });
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
    output.start().catch((error: unknown) => this.fail(take, error));
  }

  /** Ends the recording: the muxer writes what it holds, then the last `dataavailable` and `stop` fire. */
  stop(): void {
    const take = this.take;
    if (this.current === 'inactive' || !take) return;
    this.current = 'inactive';
    take.done.abort();
    take.output.finalize().then(
      () => {
        if (this.take !== take) return;
        this.flush(take);
        this.take = undefined;
        this.onstop?.(new Event('stop'));
      },
      (error: unknown) => this.fail(take, error),
    );
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
    this.take = undefined;
    this.current = 'inactive';
    take.done.abort();
    void take.output.cancel().catch(() => undefined);
    this.onerror?.(new ErrorEvent('error', { error, message: error instanceof Error ? error.message : String(error) }));
    this.onstop?.(new Event('stop'));
  }
}
