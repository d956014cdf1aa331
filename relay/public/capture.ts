/**
 * Chooses how a broadcast records (docs/embedding.md#capture-paths): with WebCodecs (the browser
 * encodes H.264 and AAC or Opus, mediabunny muxes) or with MediaRecorder. The goal is the least
 * work at the relay: both streams copied beats video copied, which beats a transcode.
 */

import { hasAacAudio, pickMimeType, type PreferredCodec } from './mime-types.js';
import type { Recorder } from './recorder.js';
import { webCodecsFormat, type WebCodecsFormat } from './webcodecs-format.js';
import { loadMediabunny, WebCodecsRecorder, type MediabunnyModule } from './webcodecs-recorder.js';

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
}

/** How each leg of the broadcast records, and what the start message announces. */
export interface CapturePlan {
  readonly path: 'webcodecs' | 'mediarecorder';
  readonly mimeType: string;
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
 * Plans the capture for a broadcast. Resolves with a plan, or with the reason there is none (the
 * client's NO_SUPPORTED_MIME_TYPE).
 */
export async function planCapture(request: CaptureRequest): Promise<CapturePlan | { readonly error: string }> {
  const recordable = (type: string) => typeof MediaRecorder !== 'undefined' && MediaRecorder.isTypeSupported(type);
  if (request.mimeType !== undefined) {
    if (request.capture === 'webcodecs') return { error: 'mimeType names a MediaRecorder type; it cannot be used with capture: \'webcodecs\'.' };
    if (!recordable(request.mimeType)) return { error: `This browser cannot record ${request.mimeType} with MediaRecorder.` };
    return mediaRecorderPlan(request, request.mimeType);
  }
  const recorderType = pickMimeType(request.preferCodec, recordable);
  const wanted = request.capture !== 'mediarecorder' && request.preferCodec !== 'vp8';
  const settings = wanted ? captureSettings(request.stream) : undefined;
  const format = settings
    ? await webCodecsFormat({ ...settings, videoBitsPerSecond: request.videoBitsPerSecond, audioBitsPerSecond: request.audioBitsPerSecond })
    : undefined;
  const path = choosePath(request.capture, request.preferCodec, recorderType, format);
  if (path === 'webcodecs') {
    try {
      return webCodecsPlan(request, format!, settings!.frameRate, await (request.loadMuxer ?? loadMediabunny)());
    } catch (error) {
      // The muxer could not be loaded (a bundled client without `loadMuxer`): MediaRecorder, unless forced.
      if (request.capture === 'webcodecs' || !recorderType) return { error: `The WebCodecs muxer could not be loaded: ${String(error)}` };
      return mediaRecorderPlan(request, recorderType);
    }
  }
  if (path === 'mediarecorder') return mediaRecorderPlan(request, recorderType!);
  return {
    error: request.capture === 'webcodecs'
      ? 'This browser cannot encode H.264 with WebCodecs (VideoEncoder and AudioEncoder).'
      : `This browser cannot record ${request.preferCodec} video with MediaRecorder.`,
  };
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

function mediaRecorderPlan(request: CaptureRequest, mimeType: string): CapturePlan {
  return {
    path: 'mediarecorder',
    mimeType,
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
    }),
  };
}
