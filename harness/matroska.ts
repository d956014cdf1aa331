/* eslint-disable no-bitwise -- EBML variable-size integers and avcC are bit fields by nature */
/**
 * Rewrites the video track's CodecPrivate (for H.264: the avcC) of a Matroska file, to make the
 * streams a browser with a broken encoder would send (Firefox's doubled NAL header bytes). Only
 * the header before the first Cluster is touched: the Tracks element and the sizes of its
 * ancestors; a live (unknown-size) Segment stays unknown-size.
 */

const ID_SEGMENT = 0x18538067;
const ID_TRACKS = 0x1654ae6b;
const ID_TRACK_TYPE = 0x83;
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

function readElement(buf: Uint8Array, at: number): Element {
  const idWidth = Math.clz32(buf[at]!) - 23;
  let id = 0;
  for (let i = 0; i < idWidth; i++) id = id * 256 + buf[at + i]!;
  const sizeAt = at + idWidth;
  const sizeWidth = Math.clz32(buf[sizeAt]!) - 23;
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
  const end = el.dataStart + (el.size ?? 0);
  for (let at = el.dataStart; at < end;) {
    const child = readElement(buf, at);
    out.push(child);
    at = child.dataStart + (child.size ?? 0);
  }
  return out;
}

/** `mkv` with the video track's CodecPrivate replaced by `transform(old)`. */
export function withVideoCodecPrivate(mkv: Uint8Array, transform: (codecPrivate: Uint8Array) => Uint8Array): Uint8Array {
  const ebml = readElement(mkv, 0);
  const segment = readElement(mkv, ebml.dataStart + ebml.size!);
  if (segment.id !== ID_SEGMENT) throw new Error('no Segment after the EBML header');
  for (let at = segment.dataStart; at < mkv.byteLength;) {
    const el = readElement(mkv, at);
    if (el.id === ID_CLUSTER) break;
    if (el.id === ID_TRACKS) {
      const entries = children(mkv, el).map((entry) => {
        const fields = children(mkv, entry);
        const isVideo = fields.some((f) => f.id === ID_TRACK_TYPE && mkv[f.dataStart] === 1);
        if (!isVideo) return mkv.subarray(entry.start, entry.dataStart + entry.size!);
        const data = concat(fields.map((f) => {
          const bytes = mkv.subarray(f.dataStart, f.dataStart + f.size!);
          return f.id === ID_CODEC_PRIVATE ? rebuild(mkv, f, transform(bytes.slice())) : mkv.subarray(f.start, f.dataStart + f.size!);
        }));
        return rebuild(mkv, entry, data);
      });
      const tracks = rebuild(mkv, el, concat(entries));
      const delta = tracks.byteLength - (el.dataStart + el.size! - el.start);
      const segmentHead = segment.size === undefined
        ? mkv.subarray(segment.start, segment.dataStart)
        : concat([mkv.subarray(segment.start, segment.dataStart - segment.sizeWidth), encodeSize(segment.size + delta, segment.sizeWidth)]);
      const before = [mkv.subarray(0, segment.start), segmentHead, mkv.subarray(segment.dataStart, el.start)];
      return concat([...before, tracks, mkv.subarray(el.dataStart + el.size!)]);
    }
    if (el.size === undefined) break;
    at = el.dataStart + el.size;
  }
  throw new Error('no Tracks element before the first Cluster');
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
