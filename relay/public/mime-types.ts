/**
 * Chooses the `MediaRecorder` mimeType. The order matters: H.264 lets the relay copy video
 * (no transcode, cheap), so it comes first; VP8 forces the relay to transcode and comes last.
 */

/** A codec family the caller can ask for instead of the automatic choice. */
export type PreferredCodec = 'auto' | 'h264' | 'vp8';

/** H.264 in Matroska/WebM: Chrome, Edge and other Chromium browsers. */
const H264_MATROSKA = [
  'video/x-matroska;codecs=avc1,opus',
  'video/webm;codecs=h264,opus',
  'video/webm;codecs=avc1,opus',
];

/** H.264 + AAC in (fragmented) MP4: Safari. Chrome also claims plain `video/mp4`, which is why Matroska is tried first. */
const H264_MP4 = ['video/mp4;codecs=avc1,mp4a', 'video/mp4;codecs=avc1.42E01F,mp4a.40.2', 'video/mp4'];

/** VP8 in WebM: every browser with MediaRecorder; the relay transcodes it to H.264. */
const VP8_WEBM = ['video/webm;codecs=vp8,opus', 'video/webm;codecs=vp8', 'video/webm'];

/** The candidates, best first, for a codec preference. */
export function mimeTypeCandidates(prefer: PreferredCodec = 'auto'): string[] {
  switch (prefer) {
    case 'h264':
      return [...H264_MATROSKA, ...H264_MP4];
    case 'vp8':
      return [...VP8_WEBM];
    default:
      return [...H264_MATROSKA, ...H264_MP4, ...VP8_WEBM];
  }
}

/**
 * The first candidate this browser can record, or undefined when none is supported
 * (no MediaRecorder at all, or a codec preference it cannot meet).
 *
 * @param isSupported injectable for tests; defaults to `MediaRecorder.isTypeSupported`.
 */
export function pickMimeType(
  prefer: PreferredCodec = 'auto',
  isSupported: (type: string) => boolean = (type) =>
    typeof MediaRecorder !== 'undefined' && MediaRecorder.isTypeSupported(type),
): string | undefined {
  return mimeTypeCandidates(prefer).find((type) => isSupported(type));
}

/** A short human label for a mimeType, e.g. "H.264 + Opus in Matroska". */
export function describeMimeType(mimeType: string): string {
  const lower = mimeType.toLowerCase();
  const video = /avc1|h264/.test(lower) ? 'H.264' : /vp8/.test(lower) ? 'VP8' : /vp9|vp09/.test(lower) ? 'VP9' : /av01|av1/.test(lower) ? 'AV1' : lower.startsWith('video/mp4') ? 'H.264' : 'VP8';
  const audio = /opus/.test(lower) ? ' + Opus' : /mp4a|aac/.test(lower) || lower.startsWith('video/mp4') ? ' + AAC' : '';
  const container = lower.startsWith('video/mp4') ? 'MP4' : lower.startsWith('video/x-matroska') ? 'Matroska' : 'WebM';
  return `${video}${audio} in ${container}`;
}
