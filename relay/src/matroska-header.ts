/* eslint-disable no-bitwise -- EBML variable-size integers are bit fields by nature */
/**
 * The relay's own check of a recording's H.264 header (docs/pipeline.md#input): the start of each
 * Matroska recording is held until its Tracks element is whole, and the video track's avcC is
 * checked with the client's own rules (relay/public/avc-config.ts) before FFmpeg copies it into the
 * FLV sequence header the ingest reads first. Firefox's doubled NAL header bytes are repaired; a
 * record beyond repair ends the session with UNSUPPORTED_MEDIA. The bundled client repairs before
 * it sends; this is for every other client.
 *
 * Only what comes before the first Cluster is read, at most {@link HEADER_LIMIT_BYTES}; a stream
 * that is not Matroska, has no H.264 track, or whose header is longer goes to FFmpeg untouched.
 */

import { SessionError } from './protocol.ts';
import { cleanAvcConfig } from '../public/avc-config.ts';

export const HEADER_LIMIT_BYTES = 256 * 1024;

const ID_EBML = 0x1a45dfa3;
const ID_SEGMENT = 0x18538067;
const ID_TRACKS = 0x1654ae6b;
const ID_TRACK_TYPE = 0x83;
const ID_CODEC_ID = 0x86;
const ID_CODEC_PRIVATE = 0x63a2;
const ID_CLUSTER = 0x1f43b675;

interface Element {
  readonly id: number;
  readonly start: number;
  /** Where the data starts. */
  readonly dataStart: number;
  /** Undefined for an unknown size. */
  readonly size: number | undefined;
  readonly sizeWidth: number;
}

/** The element header at `at`, or undefined when `buf` ends inside it or it is not EBML. */
export function readElement(buf: Uint8Array, at: number): Element | undefined {
  if (at >= buf.byteLength || buf[at] === 0) return undefined;
  const idWidth = Math.clz32(buf[at]!) - 23;
  const sizeAt = at + idWidth;
  if (idWidth > 4 || sizeAt >= buf.byteLength || buf[sizeAt] === 0) return undefined;
  const sizeWidth = Math.clz32(buf[sizeAt]!) - 23;
  if (sizeAt + sizeWidth > buf.byteLength) return undefined;
  let id = 0;
  for (let i = 0; i < idWidth; i++) id = id * 256 + buf[at + i]!;
  let size = buf[sizeAt]! & (0xff >> sizeWidth);
  let allOnes = size === 0xff >> sizeWidth;
  for (let i = 1; i < sizeWidth; i++) {
    size = size * 256 + buf[sizeAt + i]!;
    allOnes &&= buf[sizeAt + i] === 0xff;
  }
  return { id, start: at, dataStart: sizeAt + sizeWidth, size: allOnes ? undefined : size, sizeWidth };
}

function encodeSize(size: number, width: number): Uint8Array {
  while (size >= 2 ** (7 * width) - 1) width++;
  const out = new Uint8Array(width);
  let rest = size;
  for (let i = width - 1; i >= 0; i--) {
    out[i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  out[0]! |= 0x80 >> (width - 1);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** An element with new data: its id as it was, its size re-encoded (at least as wide as before). */
function rebuild(buf: Uint8Array, el: Element, data: Uint8Array): Uint8Array {
  return concat([buf.subarray(el.start, el.dataStart - el.sizeWidth), encodeSize(data.byteLength, el.sizeWidth), data]);
}

function children(buf: Uint8Array, el: Element): Element[] {
  const out: Element[] = [];
  const end = el.dataStart + el.size!;
  for (let at = el.dataStart; at < end;) {
    const child = readElement(buf, at);
    if (!child || child.size === undefined) break;
    out.push(child);
    at = child.dataStart + child.size;
  }
  return out;
}

/** Where a Matroska header is, as far as `buf` goes. */
type Located =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'none' }
  | { readonly kind: 'tracks'; readonly segment: Element; readonly tracks: Element };

/** Finds the Tracks element before the first Cluster. */
function locateTracks(buf: Uint8Array): Located {
  const ebml = readElement(buf, 0);
  if (!ebml) return buf.byteLength < 12 ? { kind: 'incomplete' } : { kind: 'none' };
  if (ebml.id !== ID_EBML || ebml.size === undefined) return { kind: 'none' };
  const segment = readElement(buf, ebml.dataStart + ebml.size);
  if (!segment) return { kind: 'incomplete' };
  if (segment.id !== ID_SEGMENT) return { kind: 'none' };
  for (let at = segment.dataStart; ;) {
    const el = readElement(buf, at);
    if (!el) return { kind: 'incomplete' };
    if (el.id === ID_CLUSTER || el.size === undefined) return { kind: 'none' };
    if (el.dataStart + el.size > buf.byteLength) return { kind: 'incomplete' };
    if (el.id === ID_TRACKS) return { kind: 'tracks', segment, tracks: el };
    at = el.dataStart + el.size;
  }
}

/**
 * `buf` (the start of a Matroska stream) with the video track's CodecPrivate replaced by
 * `transform(old)`: the Tracks element and the sizes of its ancestors rewritten; a live
 * (unknown-size) Segment stays unknown-size. Undefined when `buf` holds no whole Tracks element.
 */
export function withVideoCodecPrivate(buf: Uint8Array, transform: (codecPrivate: Uint8Array, codecId: string) => Uint8Array): Uint8Array | undefined {
  const found = locateTracks(buf);
  if (found.kind !== 'tracks') return undefined;
  const { segment, tracks } = found;
  const entries = children(buf, tracks).map((entry) => {
    const fields = children(buf, entry);
    const whole = buf.subarray(entry.start, entry.dataStart + entry.size!);
    const isVideo = fields.some((f) => f.id === ID_TRACK_TYPE && buf[f.dataStart] === 1);
    if (!isVideo) return whole;
    const codecIdField = fields.find((f) => f.id === ID_CODEC_ID);
    const codecId = codecIdField ? new TextDecoder().decode(buf.subarray(codecIdField.dataStart, codecIdField.dataStart + codecIdField.size!)) : '';
    const data = concat(fields.map((f) => {
      const bytes = buf.subarray(f.dataStart, f.dataStart + f.size!);
      return f.id === ID_CODEC_PRIVATE ? rebuild(buf, f, transform(bytes.slice(), codecId)) : buf.subarray(f.start, f.dataStart + f.size!);
    }));
    return rebuild(buf, entry, data);
  });
  const newTracks = rebuild(buf, tracks, concat(entries));
  const delta = newTracks.byteLength - (tracks.dataStart + tracks.size! - tracks.start);
  const segmentHead = segment.size === undefined
    ? buf.subarray(segment.start, segment.dataStart)
    : concat([buf.subarray(segment.start, segment.dataStart - segment.sizeWidth), encodeSize(segment.size + delta, segment.sizeWidth)]);
  const before = [buf.subarray(0, segment.start), segmentHead, buf.subarray(segment.dataStart, tracks.start)];
  return concat([...before, newTracks, buf.subarray(tracks.dataStart + tracks.size!)]);
}

/** What {@link checkH264Header} made of the start of a stream. */
export type HeaderVerdict =
  | { readonly kind: 'incomplete' }
  /** Not Matroska, no H.264 track, or a valid avcC: the bytes go on as they are. */
  | { readonly kind: 'pass' }
  | { readonly kind: 'repaired'; readonly bytes: Uint8Array; readonly what: string }
  | { readonly kind: 'invalid'; readonly reason: string };

/** Checks the avcC of the H.264 track in the Matroska header at the start of `buf`. */
export function checkH264Header(buf: Uint8Array): HeaderVerdict {
  const found = locateTracks(buf);
  if (found.kind === 'incomplete') return buf.byteLength > HEADER_LIMIT_BYTES ? { kind: 'pass' } : found;
  if (found.kind === 'none') return { kind: 'pass' };
  let verdict: HeaderVerdict = { kind: 'pass' };
  const bytes = withVideoCodecPrivate(buf, (codecPrivate, codecId) => {
    if (codecId !== 'V_MPEG4/ISO/AVC') return codecPrivate;
    const result = cleanAvcConfig(codecPrivate);
    if (result.kind === 'invalid') verdict = { kind: 'invalid', reason: result.problem };
    if (result.kind !== 'repaired') return codecPrivate;
    verdict = { kind: 'repaired', bytes: new Uint8Array(0), what: result.what };
    return result.record;
  });
  const v = verdict as HeaderVerdict;
  return v.kind === 'repaired' ? { ...v, bytes: bytes! } : v;
}

/**
 * One recording's start, held until its header was judged. `push` returns what may go to FFmpeg
 * now; after the verdict, every chunk goes on at once.
 */
export class H264HeaderCheck {
  /** The held bytes are `buf[0, length)`; the buffer doubles as it fills, so holding costs O(bytes) whatever the chunk sizes. */
  private buf = new Uint8Array(4096);
  private length = 0;
  /** The chunks held, as they came: passed on as the same objects (the delay trace keys frames by them). */
  private held: Uint8Array[] = [];
  private judged = false;

  /**
   * @returns the bytes to write, and what was repaired, if anything
   * @throws SessionError UNSUPPORTED_MEDIA when the avcC is malformed beyond repair
   */
  push(chunk: Uint8Array): { readonly bytes: Uint8Array[]; readonly repaired?: string } {
    if (this.judged) return { bytes: [chunk] };
    if (this.length + chunk.byteLength > this.buf.byteLength) {
      const grown = new Uint8Array(Math.max(this.buf.byteLength * 2, this.length + chunk.byteLength));
      grown.set(this.buf.subarray(0, this.length));
      this.buf = grown;
    }
    this.buf.set(chunk, this.length);
    this.length += chunk.byteLength;
    this.held.push(chunk);
    const start = this.buf.subarray(0, this.length);
    const verdict = checkH264Header(start);
    if (verdict.kind === 'incomplete') return { bytes: [] };
    const held = this.held;
    this.judged = true;
    this.buf = new Uint8Array(0);
    this.length = 0;
    this.held = [];
    if (verdict.kind === 'invalid') throw new SessionError('UNSUPPORTED_MEDIA', `the stream's H.264 header is malformed: ${verdict.reason}`);
    if (verdict.kind === 'repaired') return { bytes: [verdict.bytes], repaired: verdict.what };
    return { bytes: held };
  }

  /** Bytes held, not yet given to FFmpeg. */
  get bufferedBytes(): number {
    return this.length;
  }
}
