import { SessionError } from './protocol.ts';

/** What the relay will do with one session's media, decided from its `mimeType` alone. */
export interface PipelinePlan {
  /** The demuxer forced on FFmpeg's input: probing never guesses the container. */
  readonly inputFormat: 'matroska' | 'mp4';
  readonly video: 'copy' | 'transcode';
  readonly audio: 'copy' | 'aac';
  /** The `pipeline` field of the `ready` frame. */
  readonly pipeline: 'copy' | 'transcode';
}

const COPY_VIDEO = /^(avc1|avc3|h264)(\.|$)/;
const TRANSCODE_VIDEO = /^(vp8|vp9|vp09|vp8\.0|av01|av1)(\.|$)/;
const AAC = /^(mp4a|aac)(\.|$)/;
const OTHER_AUDIO = /^(opus|pcm|vorbis|flac)(\.|$)/;

/**
 * Maps `MediaRecorder.mimeType` to a pipeline (docs/pipeline.md): H.264 is copied, VP8/VP9/AV1 are
 * transcoded to H.264; AAC is copied, other audio becomes AAC-LC.
 * @throws SessionError UNSUPPORTED_MEDIA for containers or codecs the relay does not handle
 */
export function planPipeline(mimeType: string): PipelinePlan {
  const [essence = '', ...params] = mimeType.toLowerCase().split(';').map((s) => s.trim());
  let inputFormat: PipelinePlan['inputFormat'];
  if (essence === 'video/webm' || essence === 'video/x-matroska') inputFormat = 'matroska';
  else if (essence === 'video/mp4') inputFormat = 'mp4';
  else throw new SessionError('UNSUPPORTED_MEDIA', 'mimeType must be video/webm, video/x-matroska or video/mp4');

  const codecsParam = params.find((p) => p.startsWith('codecs='));
  const codecs = codecsParam
    ? codecsParam.slice('codecs='.length).replace(/^"|"$/g, '').split(',').map((c) => c.trim()).filter(Boolean)
    : [];

  let video: PipelinePlan['video'] | undefined;
  let audio: PipelinePlan['audio'] = 'aac';
  for (const c of codecs) {
    if (COPY_VIDEO.test(c)) video = video ?? 'copy';
    else if (TRANSCODE_VIDEO.test(c)) video = 'transcode';
    else if (AAC.test(c)) audio = 'copy';
    else if (!OTHER_AUDIO.test(c)) throw new SessionError('UNSUPPORTED_MEDIA', 'mimeType names a codec the relay does not handle');
  }
  if (video === undefined) {
    if (codecs.length > 0) throw new SessionError('UNSUPPORTED_MEDIA', 'mimeType has no video codec');
    // Without a codecs parameter: Safari's bare "video/mp4" is H.264 + AAC; a bare WebM may be
    // anything, and a transcode handles anything FFmpeg decodes.
    video = inputFormat === 'mp4' ? 'copy' : 'transcode';
    audio = inputFormat === 'mp4' ? 'copy' : 'aac';
  }
  return { inputFormat, video, audio, pipeline: video };
}

/** Encoder settings of the transcode pipeline; exported so the benchmark and tests can read them. */
export const TRANSCODE = {
  /** Fast enough for 720p30 on one vCPU while keeping reasonable quality. */
  preset: 'veryfast',
  maxHeight: 720,
  maxFps: 30,
  gopSeconds: 2,
  videoKbps: 2500,
  audioKbps: 128,
  /**
   * The largest frame the decoder accepts (1080p). A VP8/VP9 key frame may declare any size, and
   * the decoder would allocate for it: a crafted one could exhaust the task's memory for everyone.
   */
  maxInputPixels: 1920 * 1080,
} as const;

/**
 * How the relay encodes audio that is not AAC already; exported so the benchmark measures the same.
 * The fast coder: the same AAC-LC at the same bitrate for about 12 % less of the copy pipeline's
 * CPU than FFmpeg's default (twoloop); measured in docs/pipeline.md#copy-pipeline.
 */
export const AAC_ENCODE: readonly string[] = ['-c:a', 'aac', '-aac_coder', 'fast', '-profile:a', 'aac_low', '-b:a', `${TRANSCODE.audioKbps}k`, '-ar', '48000', '-ac', '2'];

/**
 * Copied video's decode timestamps, made to increase: each DTS at least 1 ms after the one before,
 * each PTS no earlier than its DTS. Matroska stores no DTS, so FFmpeg derives them, and for the
 * frames read during the short probe (before it has settled the decode order) it can give the
 * second frame the first one's; browsers under load also stamp two frames with one millisecond.
 * A stream whose timestamps are already valid passes unchanged. (`\,` keeps FFmpeg from reading a
 * comma in the expressions as the start of another filter.)
 */
const INCREASING_DTS = 'setts=dts=max(DTS\\,PREV_OUTDTS+0.001/TB):pts=max(PTS\\,max(DTS\\,PREV_OUTDTS+0.001/TB))';

/** Options of {@link ffmpegArgs}. */
export interface FfmpegArgsOptions {
  /** FFmpeg's `-rw_timeout` on the output, in milliseconds. */
  readonly rwTimeoutMs: number;
  /** PEM CA bundle for verifying an `rtmps://` ingest: `RELAY_INGEST_CA_FILE` (docs/configuration.md#tls). */
  readonly ingestCaFile: string;
}

/**
 * Builds FFmpeg's argv for a plan, publishing to one ingest. The publish URL is the last argument;
 * argv holds it, so argv is never logged.
 */
export function ffmpegArgs(plan: PipelinePlan, publishUrl: string, opts: FfmpegArgsOptions): string[] {
  return [...common('pipe:1'), ...encode(plan), ...publish(publishUrl, opts)];
}

/**
 * The encoder of a session with several destinations (docs/pipeline.md#several-destinations): the
 * same input and codecs, written once as FLV to stdout for the relay to hand to each publisher. Its
 * progress report goes to stderr, beside its log lines.
 */
export function encoderArgs(plan: PipelinePlan): string[] {
  return [...common('pipe:2'), ...encode(plan), '-f', 'flv', '-flvflags', 'no_duration_filesize', 'pipe:1'];
}

/** A publisher of a session with several destinations: the encoder's FLV from stdin, copied to one ingest. */
export function publisherArgs(publishUrl: string, opts: FfmpegArgsOptions): string[] {
  return [...common('pipe:1'), '-f', 'flv', '-i', 'pipe:0', '-map', '0', '-c', 'copy', ...publish(publishUrl, opts)];
}

function common(progress: 'pipe:1' | 'pipe:2'): string[] {
  return [
    '-hide_banner', '-nostdin', '-nostats',
    // Each stderr line carries its level, so only real errors are classified.
    '-loglevel', 'level+info',
    '-progress', progress, '-stats_period', '1',
    // Only the pipe may be read: the input can never name a file or a URL.
    '-protocol_whitelist', 'pipe',
  ];
}

function encode(plan: PipelinePlan): string[] {
  const input = [
    // The declared codecs' parameters are in the container header; FFmpeg still reads packets
    // until the probe size (its analysis window, 5 s with 0, ends later). 8 KiB usually ends the
    // probe with the first key frame (read whole) and the audio before it, so the output opens on the
    // browser's first chunk; 32 KiB held it for three MediaRecorder chunks (~0.7 s). (-fflags
    // +nobuffer is deliberately absent: with it FFmpeg 5.1 drops the first GOP of video.) So short
    // a probe can leave the copied video's first decode times unsettled: see INCREASING_DTS.
    '-probesize', '8192', '-analyzeduration', '0',
    // Only a transcode decodes video; copied video is never decoded.
    ...(plan.video === 'transcode' ? ['-max_pixels', String(TRANSCODE.maxInputPixels)] : []),
    '-f', plan.inputFormat, '-i', 'pipe:0',
    '-map', '0:v:0', '-map', '0:a:0?',
  ];
  const video = plan.video === 'copy'
    ? ['-c:v', 'copy', '-bsf:v', INCREASING_DTS]
    : [
      // Constant frame rate: browsers skip frames under load, and a keyframe can only land on a
      // frame; without duplicates filling the gaps a GOP stretches past 2 s.
      '-vf', `scale=w=-2:h=min(${TRANSCODE.maxHeight}\\,ih),fps=${TRANSCODE.maxFps}`,
      '-c:v', 'libx264', '-preset', TRANSCODE.preset, '-tune', 'zerolatency',
      '-profile:v', 'main', '-pix_fmt', 'yuv420p', '-bf', '0',
      '-g', String(TRANSCODE.gopSeconds * TRANSCODE.maxFps), '-keyint_min', String(TRANSCODE.gopSeconds * TRANSCODE.maxFps),
      '-sc_threshold', '0',
      // Time-based, so the GOP stays 2 s whatever the frame count says.
      '-force_key_frames', `expr:gte(t,n_forced*${TRANSCODE.gopSeconds})`,
      '-b:v', `${TRANSCODE.videoKbps}k`, '-maxrate', `${TRANSCODE.videoKbps}k`, '-bufsize', `${TRANSCODE.videoKbps * 2}k`,
    ];
  const audio = plan.audio === 'copy' ? ['-c:a', 'copy'] : AAC_ENCODE;
  return [...input, ...video, ...audio];
}

function publish(publishUrl: string, opts: FfmpegArgsOptions): string[] {
  return [
    // Only RTMP(S) may be written: FFmpeg can never be made to write a file.
    '-protocol_whitelist', 'rtmp,rtmps,tcp,tls',
    // A write blocked this long fails inside FFmpeg too, so a stuck ingest cannot pin the process.
    '-rw_timeout', String(opts.rwTimeoutMs * 1000),
    // FFmpeg's TLS does not verify the peer by default. These output options reach the tls layer
    // beneath rtmps (checked with Debian's FFmpeg 5.1 / GnuTLS): the chain against the CA file, and
    // the certificate's names against the URL's host. Without them a man in the middle of the
    // relay's egress could read the stream key.
    ...(/^rtmps:/i.test(publishUrl) ? ['-tls_verify', '1', '-ca_file', opts.ingestCaFile] : []),
    '-f', 'flv', '-flvflags', 'no_duration_filesize',
    publishUrl,
  ];
}
