/* eslint-disable no-bitwise -- avcC and NAL unit headers are bit fields by nature */
import { describe, expect, test } from 'bun:test';
import { avcConfigProblem, cleanAvcConfig, nalUnits, parseAvcConfig } from '../../public/avc-config.ts';

const bytes = (hex: string) => Uint8Array.from(hex.trim().split(/\s+/), (b) => Number.parseInt(b, 16));
const hex = (data: Uint8Array) => Array.from(data, (b) => b.toString(16).padStart(2, '0')).join(' ');

// Firefox ESR 153's VideoEncoder (avc1.42e01f, 1280x720), as its first output's decoderConfig.description:
// every SPS and PPS with its NAL header byte doubled (`00 18 67 67 42 …`, `00 05 68 68 cb …`).
const FIREFOX_DESCRIPTION = bytes('01 42 c0 1f 03 01 00 18 67 67 42 c0 1f d9 00 50 05 ba 10 00 00 03 00 10 01 e8 48 00 f1 83 24 80 01 00 05 68 68 cb 8c b2');
const SPS = '67 42 c0 1f d9 00 50 05 ba 10 00 00 03 00 10 01 e8 48 00 f1 83 24 80';
const PPS = '68 cb 8c b2';
// The same encoder's first key frame, as it starts: SPS and PPS in band, 4-byte lengths, then an SEI.
const FIREFOX_KEY_FRAME = bytes(`00 00 00 17 ${SPS} 00 00 00 04 ${PPS} 00 00 00 05 06 05 ff ff 80`);
// What a valid record for them is (the reserved bits Firefox leaves 0 are kept as they were only in `valid`).
const CLEAN = bytes(`01 42 c0 1f ff e1 00 17 ${SPS} 01 00 04 ${PPS}`);

describe('the H.264 decoder configuration (avcC) before muxing', () => {
  test('Firefox\'s record is found malformed: its SPS reads as profile 0x67', () => {
    expect(avcConfigProblem(parseAvcConfig(FIREFOX_DESCRIPTION))).toBe('an SPS gives profile 67 where the record says 42');
  });

  test('Firefox\'s doubled NAL header bytes are removed: one SPS and one PPS, each as the key frame carries it', () => {
    const result = cleanAvcConfig(FIREFOX_DESCRIPTION);
    expect(result.kind).toBe('repaired');
    if (result.kind !== 'repaired') return;
    expect(result.what).toContain('doubled NAL header');
    expect(hex(result.record)).toBe(hex(CLEAN));
    const parsed = parseAvcConfig(result.record);
    expect(parsed.sps.map(hex)).toEqual([SPS]);
    expect(parsed.pps.map(hex)).toEqual([PPS]);
    expect(parsed.lengthSize).toBe(4);
  });

  test('a valid record is kept byte for byte', () => {
    const result = cleanAvcConfig(CLEAN);
    expect(result).toEqual({ kind: 'valid', record: CLEAN });
  });

  test('a record broken otherwise is rebuilt from the key frame\'s in-band SPS and PPS', () => {
    // The SPS's header byte replaced by garbage: no doubling to undo.
    const broken = bytes(`01 42 c0 1f ff e1 00 17 ${SPS.replace(/^67/, '41')} 01 00 04 ${PPS}`);
    const result = cleanAvcConfig(broken, FIREFOX_KEY_FRAME);
    expect(result.kind).toBe('repaired');
    if (result.kind !== 'repaired') return;
    expect(result.what).toContain('rebuilt from the key frame');
    expect(hex(result.record)).toBe(hex(CLEAN));
  });

  test('an Annex B key frame serves as well', () => {
    const annexB = bytes(`00 00 00 01 ${SPS} 00 00 01 ${PPS} 00 00 01 65 88 84`);
    expect(nalUnits(annexB, 4).map(hex)).toEqual([SPS, PPS, '65 88 84']);
    const result = cleanAvcConfig(bytes('01 42 c0'), annexB);
    expect(result.kind === 'repaired' && hex(result.record)).toBe(hex(CLEAN));
  });

  test('a record that can be neither repaired nor rebuilt is refused, with the reason', () => {
    const result = cleanAvcConfig(bytes('01 42 c0 1f ff e1 00 40 67'), bytes('00 00 00 03 65 88 84'));
    expect(result.kind).toBe('invalid');
    if (result.kind !== 'invalid') return;
    expect(result.reason).toContain('a parameter set of 64 bytes runs past the end');
    expect(result.reason).toContain('no SPS and PPS');
    expect(cleanAvcConfig(bytes('02 42 c0 1f')).kind).toBe('invalid');
  });
});
