/**
 * Chooses the `MediaRecorder` mimeType. The order matters (docs/pipeline.md): H.264 + AAC lets the
 * relay copy both streams, with no encoder at all, so it comes first (Safari; Chrome on Windows and
 * macOS); H.264 + Opus copies the video and re-encodes only the audio; VP8 forces the relay to
 * transcode everything and comes last.
 *
 * Every candidate names its codecs: the relay builds its pipeline from the mimeType alone, and a
 * bare `video/mp4` or `video/webm` would make it guess (a bare MP4 is taken for H.264 + AAC, so a
 * browser that put Opus in it would fail).
 */

/** A codec family the caller can ask for instead of the automatic choice. */
export type PreferredCodec = 'auto' | 'h264' | 'vp8';

/** H.264 in Matroska/WebM: Chrome, Edge and other Chromium browsers. */
const H264_MATROSKA = [
  'video/x-matroska;codecs=avc1,opus',
  'video/webm;codecs=h264,opus',
  'video/webm;codecs=avc1,opus',
];

/** H.264 + AAC in (fragmented) MP4: the relay copies both streams. */
const H264_AAC_MP4 = ['video/mp4;codecs=avc1,mp4a', 'video/mp4;codecs=avc1.42E01F,mp4a.40.2', 'video/mp4;codecs=avc1,mp4a.40.2'];

/**
 * H.264 in MP4 with Opus, or with audio it does not name: the relay re-encodes the audio to AAC
 * whatever it is (safe, if a little more work).
 */
const H264_OTHER_MP4 = ['video/mp4;codecs=avc1,opus', 'video/mp4;codecs=avc1'];

/** VP8 in WebM: every browser with MediaRecorder; the relay transcodes it (and any audio) to H.264 + AAC. */
const VP8_WEBM = ['video/webm;codecs=vp8,opus', 'video/webm;codecs=vp8'];

/** The candidates, best first, for a codec preference. */
export function mimeTypeCandidates(prefer: PreferredCodec = 'auto'): string[] {
  switch (prefer) {
    case 'h264':
      return [...H264_AAC_MP4, ...H264_MATROSKA, ...H264_OTHER_MP4];
    case 'vp8':
      return [...VP8_WEBM];
    default:
      return [...H264_AAC_MP4, ...H264_MATROSKA, ...H264_OTHER_MP4, ...VP8_WEBM];
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

/** The `codecs` parameter of a mimeType, as a list (empty when there is none). */
export function codecsOf(mimeType: string): string[] {
  const param = mimeType
    .split(';')
    .slice(1)
    .map((p) => p.trim())
    .find((p) => p.toLowerCase().startsWith('codecs='));
  if (!param) return [];
  return param
    .slice('codecs='.length)
    .replace(/^"|"$/g, '')
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '');
}

/**
 * The mimeType to announce in the start message (docs/protocol.md#start-message): what
 * `MediaRecorder.mimeType` reports. `reported` is the constructed recorder's `mimeType`, read
 * before it starts. It wins whenever it names its codecs: then it says what the browser will
 * really record, which may be more precise than what was asked (`avc1.42E01F` for `avc1`) or not
 * the same at all. A report without codecs (empty, or a bare container) says less than the
 * request, which then stays.
 */
export function announcedMimeType(requested: string, reported: string | undefined): string {
  const said = reported?.trim() ?? '';
  return said !== '' && codecsOf(said).length > 0 ? said : requested;
}

/** A short human label for a mimeType, e.g. "H.264 + Opus in Matroska". */
export function describeMimeType(mimeType: string): string {
  const lower = mimeType.toLowerCase();
  const video = /avc1|h264/.test(lower) ? 'H.264' : /vp8/.test(lower) ? 'VP8' : /vp9|vp09/.test(lower) ? 'VP9' : /av01|av1/.test(lower) ? 'AV1' : lower.startsWith('video/mp4') ? 'H.264' : 'VP8';
  const audio = /opus/.test(lower) ? ' + Opus' : /mp4a|aac/.test(lower) || lower.startsWith('video/mp4') ? ' + AAC' : '';
  const container = lower.startsWith('video/mp4') ? 'MP4' : lower.startsWith('video/x-matroska') ? 'Matroska' : 'WebM';
  return `${video}${audio} in ${container}`;
}

/**
 * True when the recording's audio is AAC, which the relay copies: named as `mp4a`/`aac`, or a bare
 * `video/mp4` (which the relay takes for H.264 + AAC, docs/pipeline.md#input).
 */
export function hasAacAudio(mimeType: string): boolean {
  const codecs = codecsOf(mimeType);
  return codecs.length === 0 ? mimeType.trim().toLowerCase().startsWith('video/mp4') : codecs.some((c) => /^(mp4a|aac)(\.|$)/i.test(c));
}

/** What the relay does with a session, for the status panel: which streams it copies and which it encodes. */
export function describePipeline(pipeline: 'copy' | 'transcode', mimeType: string): string {
  if (pipeline === 'transcode') return 'transcode (re-encoded to H.264 + AAC by the relay)';
  return hasAacAudio(mimeType) ? 'copy (H.264 and AAC passed through: no encoder)' : 'copy (H.264 passed through, audio to AAC)';
}
