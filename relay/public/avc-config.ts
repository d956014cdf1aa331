/* eslint-disable no-bitwise -- an avcC and NAL unit headers are bit fields by nature */
/**
 * The H.264 decoder configuration a WebCodecs encoder hands the muxer (`decoderConfig.description`,
 * an `AVCDecoderConfigurationRecord`, ISO/IEC 14496-15 §5.3.3.1), checked before it is muxed: the
 * relay copies it into the FLV sequence header the ingest reads first (docs/embedding.md#capture-paths).
 *
 * Firefox's `VideoEncoder` writes every SPS and PPS in it with the NAL header byte doubled
 * (`00 18 67 67 42 c0 1f …`, `00 05 68 68 cb …`): decoders then read the profile as 0x67 and the
 * PPS id as garbage (FFmpeg: `sps_id 1 out of range`). That defect is repaired; any other broken
 * record is rebuilt from the SPS and PPS the first key frame carries in band; a record that can be
 * neither is refused.
 *
 * Browser code with no browser API: pure functions of bytes.
 */

const NAL_SPS = 7;
const NAL_PPS = 8;

/** The parts of an `AVCDecoderConfigurationRecord`. */
export interface AvcConfig {
  readonly profile: number;
  readonly compatibility: number;
  readonly level: number;
  /** NAL unit length field size in bytes (1, 2 or 4). */
  readonly lengthSize: number;
  readonly sps: readonly Uint8Array[];
  readonly pps: readonly Uint8Array[];
  /** Bytes after the PPS list (the High profiles' chroma/bit-depth extension), kept as they are. */
  readonly trailer: Uint8Array;
}

/** What {@link cleanAvcConfig} made of a record. */
export type AvcConfigResult =
  | { readonly kind: 'valid'; readonly record: Uint8Array }
  | { readonly kind: 'repaired'; readonly record: Uint8Array; readonly what: string }
  /** `problem`: what is wrong with the record itself; `reason`: that, and that it could not be rebuilt either. */
  | { readonly kind: 'invalid'; readonly reason: string; readonly problem: string };

/** Parses a record; throws an Error saying what is wrong with its layout. */
export function parseAvcConfig(record: Uint8Array): AvcConfig {
  if (record.byteLength < 7) throw new Error(`the record is ${record.byteLength} bytes, fewer than 7`);
  if (record[0] !== 1) throw new Error(`configurationVersion is ${record[0]}, not 1`);
  let at = 6;
  const take = (count: number): readonly Uint8Array[] => {
    const units: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      if (at + 2 > record.byteLength) throw new Error('a parameter set length runs past the end');
      const length = (record[at]! << 8) | record[at + 1]!;
      at += 2;
      if (length === 0 || at + length > record.byteLength) throw new Error(`a parameter set of ${length} bytes runs past the end`);
      units.push(record.slice(at, at + length));
      at += length;
    }
    return units;
  };
  const sps = take(record[5]! & 0x1f);
  if (at >= record.byteLength) throw new Error('the PPS count is missing');
  const ppsCount = record[at++]!;
  const pps = take(ppsCount);
  return {
    profile: record[1]!,
    compatibility: record[2]!,
    level: record[3]!,
    lengthSize: (record[4]! & 0x03) + 1,
    sps,
    pps,
    trailer: record.slice(at),
  };
}

/** Writes a record: the inverse of {@link parseAvcConfig}. */
export function writeAvcConfig(config: AvcConfig): Uint8Array {
  const units = [...config.sps, ...config.pps];
  const out = new Uint8Array(7 + units.reduce((n, u) => n + 2 + u.byteLength, 0) + config.trailer.byteLength);
  out.set([1, config.profile, config.compatibility, config.level, 0xfc | (config.lengthSize - 1), 0xe0 | config.sps.length]);
  let at = 6;
  const put = (unit: Uint8Array) => {
    out[at++] = unit.byteLength >> 8;
    out[at++] = unit.byteLength & 0xff;
    out.set(unit, at);
    at += unit.byteLength;
  };
  config.sps.forEach(put);
  out[at++] = config.pps.length;
  config.pps.forEach(put);
  out.set(config.trailer, at);
  return out;
}

/** Why a parsed record would not decode, or undefined when it would. */
export function avcConfigProblem(config: AvcConfig): string | undefined {
  if (config.sps.length === 0) return 'it has no SPS';
  if (config.pps.length === 0) return 'it has no PPS';
  if (![1, 2, 4].includes(config.lengthSize)) return `its NAL length size is ${config.lengthSize}`;
  for (const sps of config.sps) {
    if (sps.byteLength < 4 || (sps[0]! & 0x80) !== 0 || (sps[0]! & 0x1f) !== NAL_SPS) return `an SPS starts ${hex(sps.subarray(0, 4))}, not with an SPS NAL header`;
    // The SPS's own profile_idc and level_idc are what the record repeats.
    if (sps[1] !== config.profile) return `an SPS gives profile ${hex(sps.subarray(1, 2))} where the record says ${hex([config.profile])}`;
  }
  for (const pps of config.pps) {
    if (pps.byteLength < 2 || (pps[0]! & 0x80) !== 0 || (pps[0]! & 0x1f) !== NAL_PPS) return `a PPS starts ${hex(pps.subarray(0, 2))}, not with a PPS NAL header`;
  }
  return undefined;
}

/**
 * A record fit to mux: `description` as it is when valid; with the doubled NAL header bytes
 * removed (Firefox's defect); else rebuilt from the SPS and PPS in `keyFrame` (the first key
 * frame's data, length-prefixed as the record says, or Annex B); else invalid, with the reason.
 */
export function cleanAvcConfig(description: Uint8Array, keyFrame?: Uint8Array): AvcConfigResult {
  let config: AvcConfig | undefined;
  let reason: string;
  try {
    config = parseAvcConfig(description);
    const problem = avcConfigProblem(config);
    if (!problem) return { kind: 'valid', record: description };
    reason = problem;
    const undoubled = undoubleNalHeaders(config);
    if (undoubled && !avcConfigProblem(undoubled)) {
      return { kind: 'repaired', record: writeAvcConfig(undoubled), what: 'the doubled NAL header byte of its SPS and PPS was removed' };
    }
  } catch (error) {
    reason = error instanceof Error ? error.message : String(error);
  }
  if (keyFrame) {
    const rebuilt = avcConfigFromKeyFrame(keyFrame, config?.lengthSize ?? 4);
    if (rebuilt && !avcConfigProblem(rebuilt)) {
      return { kind: 'repaired', record: writeAvcConfig(rebuilt), what: 'it was rebuilt from the key frame\'s SPS and PPS' };
    }
  }
  return {
    kind: 'invalid',
    problem: reason,
    reason: `the encoder's H.264 decoder configuration is malformed (${reason}) and the key frame carries no SPS and PPS to rebuild it from`,
  };
}

/** The record with each SPS and PPS rid of a repeated first byte (`67 67 …` → `67 …`), or undefined when none is doubled. */
function undoubleNalHeaders(config: AvcConfig): AvcConfig | undefined {
  const undouble = (unit: Uint8Array, type: number) =>
    unit.byteLength > 2 && unit[0] === unit[1] && (unit[0]! & 0x1f) === type ? unit.slice(1) : unit;
  const sps = config.sps.map((u) => undouble(u, NAL_SPS));
  const pps = config.pps.map((u) => undouble(u, NAL_PPS));
  const changed = sps.some((u, i) => u !== config.sps[i]) || pps.some((u, i) => u !== config.pps[i]);
  return changed ? { ...config, sps, pps } : undefined;
}

/** A record from the SPS and PPS found in a key frame, or undefined when it has neither. */
export function avcConfigFromKeyFrame(frame: Uint8Array, lengthSize: number): AvcConfig | undefined {
  const units = nalUnits(frame, lengthSize);
  const sps = units.filter((u) => (u[0]! & 0x1f) === NAL_SPS && u.byteLength >= 4);
  const pps = units.filter((u) => (u[0]! & 0x1f) === NAL_PPS && u.byteLength >= 2);
  if (sps.length === 0 || pps.length === 0) return undefined;
  const first = sps[0]!;
  // High profiles (100 and up) carry a chroma/bit-depth trailer; 4:2:0 8-bit is what the encoder was asked for.
  const trailer = first[1]! >= 100 ? Uint8Array.of(0xfc | 1, 0xf8, 0xf8, 0) : new Uint8Array(0);
  return { profile: first[1]!, compatibility: first[2]!, level: first[3]!, lengthSize: 4, sps, pps, trailer };
}

/** The NAL units of a frame: Annex B when it starts with a start code, else length-prefixed. */
export function nalUnits(frame: Uint8Array, lengthSize: number): Uint8Array[] {
  const units: Uint8Array[] = [];
  const annexB = frame.byteLength >= 4 && frame[0] === 0 && frame[1] === 0 && (frame[2] === 1 || (frame[2] === 0 && frame[3] === 1));
  if (annexB) {
    let start = -1;
    for (let i = 0; i + 2 < frame.byteLength; i++) {
      if (frame[i] === 0 && frame[i + 1] === 0 && frame[i + 2] === 1) {
        if (start >= 0) units.push(trimZeros(frame.subarray(start, i)));
        start = i + 3;
        i += 2;
      }
    }
    if (start >= 0 && start < frame.byteLength) units.push(frame.subarray(start));
    return units.filter((u) => u.byteLength > 0);
  }
  for (let at = 0; at + lengthSize <= frame.byteLength;) {
    let length = 0;
    for (let i = 0; i < lengthSize; i++) length = length * 256 + frame[at + i]!;
    at += lengthSize;
    if (length === 0 || at + length > frame.byteLength) break;
    units.push(frame.subarray(at, at + length));
    at += length;
  }
  return units;
}

function trimZeros(unit: Uint8Array): Uint8Array {
  let end = unit.byteLength;
  while (end > 0 && unit[end - 1] === 0) end--;
  return unit.subarray(0, end);
}

function hex(bytes: ArrayLike<number>): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}
