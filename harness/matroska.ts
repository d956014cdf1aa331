/* eslint-disable no-bitwise -- EBML variable-size integers and avcC are bit fields by nature */
/**
 * Rewrites the video track's CodecPrivate (for H.264: the avcC) of a Matroska file, to make the
 * streams a browser with a broken encoder would send (Firefox's doubled NAL header bytes). Only
 * the header before the first Cluster is touched: the Tracks element and the sizes of its
 * ancestors; a live (unknown-size) Segment stays unknown-size.
 */

import { makeClip, type ClipRecipe } from './clips.ts';
import { withVideoCodecPrivate as rewrite } from '../relay/src/matroska-header.ts';

/** `mkv` with the video track's CodecPrivate replaced by `transform(old)` (the relay's own EBML rewriting). */
export function withVideoCodecPrivate(mkv: Uint8Array, transform: (codecPrivate: Uint8Array) => Uint8Array): Uint8Array {
  const out = rewrite(mkv, transform);
  if (!out) throw new Error('no Tracks element before the first Cluster');
  return out;
}

/** Firefox's defect (docs/embedding.md#browser-support): every SPS and PPS in an avcC with its NAL header byte doubled. */
export function doubleNalHeaders(avcC: Uint8Array): Uint8Array {
  const parts: number[] = [...avcC.subarray(0, 6)];
  let at = 6;
  const copy = (count: number) => {
    for (let i = 0; i < count; i++) {
      const length = (avcC[at]! << 8) | avcC[at + 1]!;
      const unit = avcC.subarray(at + 2, at + 2 + length);
      parts.push((length + 1) >> 8, (length + 1) & 0xff, unit[0]!, ...unit);
      at += 2 + length;
    }
  };
  copy(avcC[5]! & 0x1f);
  const pps = avcC[at++]!;
  parts.push(pps);
  copy(pps);
  parts.push(...avcC.subarray(at));
  return Uint8Array.from(parts);
}

/**
 * An avcC whose SPS keeps a valid NAL header and profile (so the relay's header check passes it)
 * but whose seq_parameter_set_id is out of range: FFmpeg logs `sps_id 32 out of range` as it
 * opens such a stream, and goes on.
 */
export function garbleSpsId(avcC: Uint8Array): Uint8Array {
  const out = avcC.slice();
  // avcC header (6 bytes), the SPS length (2), then the SPS: NAL header, profile, constraints, level, then sps_id.
  out.set([0x00, 0x01], 6 + 2 + 4);
  return out;
}

/** A live Matroska recording (unknown sizes, as a browser streams it): 640x360 30 fps H.264, a key frame every 2 s, an Opus tone. */
export const LIVE_H264_MKV: ClipRecipe = {
  name: 'h264-opus-live-360p',
  ext: 'mkv',
  video: 'testsrc=size=640x360:rate=30',
  encode: ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-bf', '0', '-g', '60', '-c:a', 'libopus', '-f', 'matroska', '-live', '1'],
};

/** The bytes of {@link LIVE_H264_MKV}, `seconds` long (harness/clips.ts makes and caches it). */
export async function makeLiveH264Matroska(seconds: number): Promise<Uint8Array> {
  return new Uint8Array(await Bun.file(await makeClip(LIVE_H264_MKV, seconds)).arrayBuffer());
}
