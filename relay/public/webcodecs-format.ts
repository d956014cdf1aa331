/**
 * What the WebCodecs capture path encodes (docs/embedding.md#capture-paths): the H.264 profile and
 * level this browser can encode at the camera's size and frame rate, and AAC or Opus for the audio.
 * Only the browser's own `isConfigSupported` answers; nothing is encoded here.
 */

/** The encoders a WebCodecs recording uses, as the start message announces them. */
export interface WebCodecsFormat {
  /** Full `avc1.PPCCLL` string: profile and a level large enough for the size and frame rate. */
  readonly videoCodec: string;
  /** Undefined when the stream has no audio track. */
  readonly audioCodec?: 'aac' | 'opus';
  /** `video/x-matroska;codecs=<video>,<audio>`. */
  readonly mimeType: string;
}

/** What the format depends on. */
export interface WebCodecsRequest {
  readonly width: number;
  readonly height: number;
  readonly frameRate: number;
  readonly videoBitsPerSecond: number;
  readonly audioBitsPerSecond: number;
  /** Of the audio track; undefined when there is none. */
  readonly audio?: { readonly sampleRate: number; readonly numberOfChannels: number };
}

// H.264 levels (ITU-T H.264 table A-1): [level_idc, max macroblocks per frame, max macroblocks per second].
const LEVELS: readonly (readonly [number, number, number])[] = [
  [0x1f, 3_600, 108_000], // 3.1: 720p30
  [0x20, 5_120, 216_000], // 3.2: 720p60
  [0x28, 8_192, 245_760], // 4.0: 1080p30
  [0x2a, 8_704, 522_240], // 4.2: 1080p60
  [0x32, 22_080, 589_824], // 5.0
  [0x33, 36_864, 983_040], // 5.1: 4K30
];
// Constrained Baseline, Main, High: the order the relay's ingests and players like best (no B-frames first).
const PROFILES = ['42e0', '4d40', '6400'];

/** The smallest level that holds `width`×`height` at `frameRate`, as two hex digits. */
export function h264Level(width: number, height: number, frameRate: number): string | undefined {
  const perFrame = Math.ceil(width / 16) * Math.ceil(height / 16);
  const level = LEVELS.find(([, maxFrame, maxRate]) => perFrame <= maxFrame && perFrame * frameRate <= maxRate);
  return level?.[0].toString(16).padStart(2, '0');
}

/**
 * The format this browser can encode for the request, or undefined when it lacks WebCodecs or an
 * H.264 encoder for it. Audio is AAC when the browser encodes it (the relay then copies both
 * streams), else Opus; with neither, there is no WebCodecs path.
 */
export async function webCodecsFormat(request: WebCodecsRequest): Promise<WebCodecsFormat | undefined> {
  if (typeof VideoEncoder === 'undefined' || typeof AudioEncoder === 'undefined') return undefined;
  const level = h264Level(request.width, request.height, request.frameRate);
  if (!level) return undefined;
  let videoCodec: string | undefined;
  for (const profile of PROFILES) {
    const codec = `avc1.${profile}${level}`;
    const config: VideoEncoderConfig = {
      codec,
      width: request.width,
      height: request.height,
      framerate: request.frameRate,
      bitrate: request.videoBitsPerSecond,
      bitrateMode: 'constant',
      latencyMode: 'realtime',
    };
    if (await isSupported(() => VideoEncoder.isConfigSupported(config))) {
      videoCodec = codec;
      break;
    }
  }
  if (!videoCodec) return undefined;
  if (!request.audio) return { videoCodec, mimeType: `video/x-matroska;codecs=${videoCodec}` };
  const audioConfig = (codec: string): AudioEncoderConfig => ({ codec, bitrate: request.audioBitsPerSecond, ...request.audio! });
  const audioCodec = (await isSupported(() => AudioEncoder.isConfigSupported(audioConfig('mp4a.40.2'))))
    ? 'aac'
    : (await isSupported(() => AudioEncoder.isConfigSupported(audioConfig('opus')))) ? 'opus' : undefined;
  if (!audioCodec) return undefined;
  return { videoCodec, audioCodec, mimeType: `video/x-matroska;codecs=${videoCodec},${audioCodec === 'aac' ? 'mp4a.40.2' : 'opus'}` };
}

async function isSupported(check: () => Promise<{ supported?: boolean }>): Promise<boolean> {
  try {
    return (await check()).supported === true;
  } catch {
    return false;
  }
}
