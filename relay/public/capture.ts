/**
 * Chooses how a broadcast records (docs/embedding.md#capture-paths): with WebCodecs (the browser
 * encodes H.264 and AAC or Opus, mediabunny muxes) or with MediaRecorder. The goal is the least
 * work at the relay: both streams copied beats video copied, which beats a transcode.
 */

import { hasAacAudio, pickMimeType, type PreferredCodec } from './mime-types.js';
import type { Recorder } from './recorder.js';
import { webCodecsFormat, type WebCodecsFormat } from './webcodecs-format.js';
import { CaptureStartError, loadMediabunny, WebCodecsRecorder, type MediabunnyModule } from './webcodecs-recorder.js';

/** Which capture path a broadcast may use. */
export type CapturePath = 'auto' | 'webcodecs' | 'mediarecorder';

/** What the caller asked for. */
export interface CaptureRequest {
  readonly capture: CapturePath;
  readonly preferCodec: PreferredCodec;
  /** An exact MediaRecorder mimeType: implies MediaRecorder. */
  readonly mimeType?: string;
  readonly stream: MediaStream;
  readonly videoBitsPerSecond: number;
  readonly audioBitsPerSecond: number;
  readonly keyFrameIntervalMs: number;
  /** Loads the muxer; the default loads it from the relay's `vendor/` folder. */
  readonly loadMuxer?: () => Promise<MediabunnyModule>;
  /** The bound on each wait for the browser while starting: the muxer's load, a WebCodecs recording's start. */
  readonly startTimeoutMs: number;
}

/** Why there is no plan: the client's error code and a message naming what is missing or did not start. */
export interface CaptureRefusal {
  readonly code: 'NO_SUPPORTED_MIME_TYPE' | 'CAPTURE_FAILED';
  readonly error: string;
}

/** How each leg of the broadcast records, and what the start message announces. */
export interface CapturePlan {
  readonly path: 'webcodecs' | 'mediarecorder';
  readonly mimeType: string;
  /** Set when `auto` chose WebCodecs and it could not start: why, said to the user (`ready.captureFallback`). */
  readonly fallback?: string;
  /** A recorder for one leg, not started. Throws when the browser refuses the options. */
  createRecorder(videoBitsPerSecond: number): Recorder;
}

/**
 * The path for what this browser offers. `recorderType` is MediaRecorder's best mimeType for the
 * codec preference, `webCodecs` the WebCodecs format (each undefined when unavailable). In `auto`,
 * WebCodecs wins unless it would send Opus while MediaRecorder records AAC: a full copy costs the
 * relay a tenth of an audio encode. VP8 exists only on MediaRecorder.
 */
export function choosePath(
  capture: CapturePath,
  preferCodec: PreferredCodec,
  recorderType: string | undefined,
  webCodecs: WebCodecsFormat | undefined,
): 'webcodecs' | 'mediarecorder' | undefined {
  const recorder = recorderType ? 'mediarecorder' : undefined;
  if (capture === 'mediarecorder') return recorder;
  if (capture === 'webcodecs') return webCodecs && preferCodec !== 'vp8' ? 'webcodecs' : undefined;
  if (!webCodecs || preferCodec === 'vp8') return recorder;
  return webCodecs.audioCodec === 'opus' && recorderType && hasAacAudio(recorderType) ? 'mediarecorder' : 'webcodecs';
}

/**
 * Plans the capture for a broadcast. Resolves with a plan, or with the reason there is none. A
 * WebCodecs plan is tried before it is taken: a recording is started (and discarded) with every
 * wait bounded by `startTimeoutMs`, so that a path that cannot start (an `AudioContext` that stays
 * suspended, an encoder that never answers, an H.264 header that cannot be made valid) is known
 * before the relay is asked for anything. In `auto` MediaRecorder then takes over and the plan says
 * why; a forced WebCodecs fails with CAPTURE_FAILED.
 */
export async function planCapture(request: CaptureRequest): Promise<CapturePlan | CaptureRefusal> {
  const recordable = (type: string) => typeof MediaRecorder !== 'undefined' && MediaRecorder.isTypeSupported(type);
  const unsupported = (error: string): CaptureRefusal => ({ code: 'NO_SUPPORTED_MIME_TYPE', error });
  if (request.mimeType !== undefined) {
    if (request.capture === 'webcodecs') return unsupported('mimeType names a MediaRecorder type; it cannot be used with capture: \'webcodecs\'.');
    if (!recordable(request.mimeType)) return unsupported(`This browser cannot record ${request.mimeType} with MediaRecorder.`);
    return mediaRecorderPlan(request, request.mimeType);
  }
  const recorderType = pickMimeType(request.preferCodec, recordable);
  const wanted = request.capture !== 'mediarecorder' && request.preferCodec !== 'vp8';
  const settings = wanted ? captureSettings(request.stream) : undefined;
  // Why WebCodecs cannot be used although the browser may have it: a wait past its bound, or a trial that did not start.
  let notStarted: string | undefined;
  const format = settings
    ? await bounded(
      webCodecsFormat({ ...settings, videoBitsPerSecond: request.videoBitsPerSecond, audioBitsPerSecond: request.audioBitsPerSecond }),
      request.startTimeoutMs,
      'the browser\'s VideoEncoder/AudioEncoder.isConfigSupported',
    ).catch((error: unknown) => void (notStarted = (error as Error).message))
    : undefined;
  const path = notStarted === undefined
    ? choosePath(request.capture, request.preferCodec, recorderType, format)
    : request.capture === 'webcodecs' ? undefined : 'mediarecorder';
  if (path === 'webcodecs') {
    let plan: CapturePlan | undefined;
    try {
      const mediabunny = await bounded((request.loadMuxer ?? loadMediabunny)(), request.startTimeoutMs, 'the WebCodecs muxer\'s load');
      plan = webCodecsPlan(request, format!, settings!.frameRate, mediabunny);
    } catch (error) {
      if (error instanceof Late) {
        notStarted = error.message;
      } else {
        // The muxer could not be loaded (a bundled client without `loadMuxer`): MediaRecorder, unless forced.
        if (request.capture === 'webcodecs' || !recorderType) return unsupported(`The WebCodecs muxer could not be loaded: ${String(error)}`);
        return mediaRecorderPlan(request, recorderType, `the WebCodecs muxer could not be loaded (${String(error)})`);
      }
    }
    notStarted ??= await tryStart(plan!);
    if (notStarted === undefined) return plan!;
  }
  if (notStarted !== undefined && (request.capture === 'webcodecs' || !recorderType)) return { code: 'CAPTURE_FAILED', error: notStarted };
  if (path === 'mediarecorder' || path === 'webcodecs') return mediaRecorderPlan(request, recorderType!, notStarted);
  return unsupported(request.capture === 'webcodecs'
    ? 'This browser cannot encode H.264 with WebCodecs (VideoEncoder and AudioEncoder).'
    : `This browser cannot record ${request.preferCodec} video with MediaRecorder.`);
}

/** Starts a WebCodecs recording and throws it away: undefined when it started, else what did not. */
async function tryStart(plan: CapturePlan): Promise<string | undefined> {
  let recorder: WebCodecsRecorder | undefined;
  try {
    recorder = plan.createRecorder(DEFAULT_TRIAL_BPS) as WebCodecsRecorder;
    recorder.start();
    // Bounded inside the recorder (startTimeoutMs).
    await recorder.whenStarted();
    return undefined;
  } catch (error) {
    return error instanceof CaptureStartError ? error.message : `The WebCodecs recording did not start: ${String(error)}`;
  } finally {
    recorder?.discard();
  }
}

/** A trial's bitrate: what it encodes is never sent. */
const DEFAULT_TRIAL_BPS = 500_000;

/** A wait on the browser that passed its bound. */
class Late extends Error {}

/** `promise`, or a {@link Late} naming `what` after `ms`. */
function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Late(`No answer within ${ms / 1000} s from ${what}.`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The video size and frame rate the encoder is set up for, and the audio track's format. */
function captureSettings(stream: MediaStream) {
  const video = stream.getVideoTracks()[0]?.getSettings();
  const audioTrack = stream.getAudioTracks()[0];
  const audio = audioTrack?.getSettings();
  return {
    width: video?.width ?? 1280,
    height: video?.height ?? 720,
    // Rounded: mediabunny samples the track at this rate, and a key frame lands on a frame.
    frameRate: Math.round(video?.frameRate ?? 30),
    audio: audioTrack ? { sampleRate: audio?.sampleRate ?? 48_000, numberOfChannels: audio?.channelCount ?? 1 } : undefined,
  };
}

function mediaRecorderPlan(request: CaptureRequest, mimeType: string, fallback?: string): CapturePlan {
  return {
    path: 'mediarecorder',
    mimeType,
    ...(fallback ? { fallback } : {}),
    createRecorder: (videoBitsPerSecond) => {
      // videoKeyFrameIntervalDuration is in the MediaRecorder spec but not yet in TypeScript's DOM lib.
      const options: MediaRecorderOptions & { videoKeyFrameIntervalDuration?: number } = {
        mimeType,
        videoBitsPerSecond,
        audioBitsPerSecond: request.audioBitsPerSecond,
        videoKeyFrameIntervalDuration: request.keyFrameIntervalMs,
      };
      return new MediaRecorder(request.stream, options);
    },
  };
}

function webCodecsPlan(
  request: CaptureRequest,
  format: WebCodecsFormat,
  frameRate: number,
  mediabunny: MediabunnyModule,
): CapturePlan {
  return {
    path: 'webcodecs',
    mimeType: format.mimeType,
    createRecorder: (videoBitsPerSecond) => new WebCodecsRecorder(mediabunny, request.stream, {
      format,
      videoBitsPerSecond,
      audioBitsPerSecond: request.audioBitsPerSecond,
      keyFrameIntervalMs: request.keyFrameIntervalMs,
      frameRate,
      startTimeoutMs: request.startTimeoutMs,
    }),
  };
}
