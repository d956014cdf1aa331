/**
 * FLV as FFmpeg writes it to a pipe (docs/pipeline.md#several-destinations): a 9-byte header and a
 * 4-byte PreviousTagSize0, then tags of an 11-byte header, a body and a 4-byte PreviousTagSize. Just
 * enough is read to forward whole tags, and to know where a publisher may begin: after the stream's
 * decoder configurations (sequence headers), at a video key frame.
 */

/** One tag, with the PreviousTagSize after it: the bytes a publisher is written. */
export interface FlvTag {
  readonly kind: 'audio' | 'video' | 'script' | 'other';
  /** Milliseconds (the 24-bit field and its extension). */
  readonly timestamp: number;
  readonly bytes: Uint8Array;
  /** A video key frame: where a publisher that joins late may start. */
  readonly keyframe: boolean;
  /** An AVC or AAC sequence header: the decoder configuration every publisher needs first. */
  readonly sequenceHeader: boolean;
}

const FILE_HEADER_BYTES = 9 + 4;
const TAG_HEADER_BYTES = 11;
const KINDS: Record<number, FlvTag['kind']> = { 8: 'audio', 9: 'video', 18: 'script' };
const AVC = 7;
const AAC = 10;

/** Splits an FLV byte stream, fed in chunks of any size, into its file header and its tags. */
export class FlvReader {
  /** The file header (with PreviousTagSize0), once read. */
  header?: Uint8Array;
  private pending: Uint8Array = new Uint8Array(0);

  /**
   * Adds bytes and returns the tags they complete.
   * @throws Error when the stream is not FLV
   */
  push(chunk: Uint8Array): FlvTag[] {
    this.pending = concat(this.pending, chunk);
    const tags: FlvTag[] = [];
    let at = 0;
    if (!this.header) {
      if (this.pending.byteLength < FILE_HEADER_BYTES) return tags;
      if (this.pending[0] !== 0x46 || this.pending[1] !== 0x4c || this.pending[2] !== 0x56) throw new Error('not an FLV stream');
      this.header = this.pending.slice(0, FILE_HEADER_BYTES);
      at = FILE_HEADER_BYTES;
    }
    while (this.pending.byteLength - at >= TAG_HEADER_BYTES) {
      const p = this.pending;
      const size = uint(p, at + 1, 3);
      const total = TAG_HEADER_BYTES + size + 4;
      if (p.byteLength - at < total) break;
      // A view, not a copy: `pending` is never written to after it was made (concat makes a new one).
      const bytes = p.subarray(at, at + total);
      tags.push(describe(bytes, size));
      at += total;
    }
    this.pending = this.pending.subarray(at);
    return tags;
  }
}

/** The tag with another timestamp (a copy). */
export function withTimestamp(tag: FlvTag, timestamp: number): FlvTag {
  const bytes = tag.bytes.slice();
  // The low 24 bits big-endian in bytes 4–6, the high 8 bits in byte 7.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  view.setUint32(4, ((timestamp % 2 ** 24) * 256) + Math.floor(timestamp / 2 ** 24) % 256);
  return { ...tag, timestamp, bytes };
}

function describe(bytes: Uint8Array, size: number): FlvTag {
  // The tag type is the low 5 bits (the others are reserved or the filter flag, always 0 here).
  const kind = KINDS[bytes[0]! % 32] ?? 'other';
  const timestamp = bytes[7]! * 2 ** 24 + uint(bytes, 4, 3);
  // A media tag's first byte: frame type (video) or sound format (audio) high, codec id low.
  const first = size > 0 ? bytes[TAG_HEADER_BYTES]! : 0;
  const [high, low] = [Math.floor(first / 16), first % 16];
  const packetType = size > 1 ? bytes[TAG_HEADER_BYTES + 1]! : -1;
  const keyframe = kind === 'video' && high === 1;
  const sequenceHeader = (kind === 'video' && low === AVC && packetType === 0) || (kind === 'audio' && high === AAC && packetType === 0);
  return { kind, timestamp, bytes, keyframe, sequenceHeader };
}

/** The big-endian unsigned integer of `length` bytes at `at`. */
function uint(bytes: Uint8Array, at: number, length: number): number {
  let n = 0;
  for (let i = 0; i < length; i++) n = n * 256 + bytes[at + i]!;
  return n;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.byteLength === 0) return b;
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}
