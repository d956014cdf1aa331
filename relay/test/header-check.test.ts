import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { expectCleanDecode, expectWellFormedAvcC } from './e2e/recording-checks.ts';
import { doubleNalHeaders, makeLiveH264Matroska, withVideoCodecPrivate } from '../../harness/matroska.ts';
import { streamFile } from '../../harness/media.ts';
import { startRelayFixture, type RelayFixture } from '../../harness/relay-fixture.ts';
import type { RelayProcess } from '../../harness/relay-process.ts';
import type { RtmpServer } from '../../harness/rtmp-server.ts';
import { checkH264Header, H264HeaderCheck, HEADER_LIMIT_BYTES } from '../src/matroska-header.ts';
import { SessionError } from '../src/protocol.ts';

// The relay's own check of a recording's H.264 header (relay/src/matroska-header.ts): Firefox's
// doubled NAL header bytes repaired before FFmpeg copies the avcC, a record beyond repair refused.

let live: Uint8Array;
let doubled: Uint8Array;
/** An avcC cut short: its SPS length runs past its end. */
let truncated: Uint8Array;

beforeAll(async () => {
  live = await makeLiveH264Matroska(6);
  doubled = withVideoCodecPrivate(live, doubleNalHeaders);
  truncated = withVideoCodecPrivate(live, (avcC) => avcC.subarray(0, 12));
});

const joined = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

describe('checkH264Header', () => {
  test('a valid header passes; Firefox\'s is repaired into exactly the encoder\'s own', () => {
    expect(checkH264Header(live)).toEqual({ kind: 'pass' });
    const verdict = checkH264Header(doubled);
    expect(verdict.kind).toBe('repaired');
    expect(verdict.kind === 'repaired' && Buffer.compare(Buffer.from(verdict.bytes), Buffer.from(live))).toBe(0);
  });

  test('a record beyond repair is refused with what is wrong', () => {
    expect(checkH264Header(truncated)).toEqual({ kind: 'invalid', reason: expect.stringContaining('runs past the end') });
  });

  test('not Matroska, or a header longer than the limit: passed on untouched', () => {
    expect(checkH264Header(new TextEncoder().encode('not a matroska stream at all'))).toEqual({ kind: 'pass' });
    expect(checkH264Header(live.subarray(0, 40))).toEqual({ kind: 'incomplete' });
    const endless = new Uint8Array(HEADER_LIMIT_BYTES + 1);
    endless.set(live.subarray(0, 40));
    expect(checkH264Header(endless).kind).toBe('pass');
  });

  test('held across chunks of any size: one byte at a time, the repaired stream comes out whole', () => {
    const check = new H264HeaderCheck();
    const out: Uint8Array[] = [];
    const repairs: string[] = [];
    for (let i = 0; i < doubled.byteLength; i++) {
      const { bytes, repaired } = check.push(doubled.subarray(i, i + 1));
      out.push(...bytes);
      if (repaired) repairs.push(repaired);
    }
    expect(repairs).toHaveLength(1);
    expect(Buffer.compare(Buffer.from(joined(out)), Buffer.from(live))).toBe(0);
    expect(check.bufferedBytes).toBe(0);
  });

  test('an unrepairable header throws UNSUPPORTED_MEDIA', () => {
    expect(() => new H264HeaderCheck().push(truncated)).toThrow(SessionError);
    try {
      new H264HeaderCheck().push(truncated);
    } catch (e) {
      expect((e as SessionError).code).toBe('UNSUPPORTED_MEDIA');
      expect((e as SessionError).message).toStartWith('the stream\'s H.264 header is malformed: ');
    }
  });
});

describe('through the relay (real FFmpeg, nginx-rtmp)', () => {
  let fixture: RelayFixture;
  let rtmp: RtmpServer;
  let relay: RelayProcess;
  const files: string[] = [];

  beforeAll(async () => {
    fixture = await startRelayFixture();
    ({ rtmp, relay } = fixture);
  });

  afterAll(async () => {
    await fixture?.stop();
    await Promise.all(files.map((f) => rm(f, { force: true })));
  });

  async function clip(name: string, bytes: Uint8Array): Promise<string> {
    const path = join(tmpdir(), `relay-header-${name}-${process.pid}.mkv`);
    await Bun.write(path, bytes);
    files.push(path);
    return path;
  }

  const start = async (key: string) => fixture.startMessage(key);

  test('Firefox\'s doubled NAL header bytes: repaired, and the ingest gets a clean recording', async () => {
    const key = 'sk_header_repaired_1a2b';
    const r = await streamFile(relay.wsUrl, await start(key), await clip('doubled', doubled), { seconds: 6 });
    expect(r.gotLive).toBe(true);
    expect(r.closeCode).toBe(1000);
    const session = r.messages.find((m) => m.type === 'ready')!.session;
    expect(relay.logs.some((l) => l.msg === 'repaired the H.264 header' && l.session === session)).toBe(true);
    const recording = await rtmp.waitForRecording(key);
    await expectWellFormedAvcC(recording);
    await expectCleanDecode(recording);
  });

  test('a header beyond repair → 4415 UNSUPPORTED_MEDIA, saying so', async () => {
    const r = await streamFile(relay.wsUrl, await start('sk_header_refused_3c4d'), await clip('truncated', truncated), { seconds: 3 });
    expect(r.closeCode).toBe(4415);
    expect(r.messages.filter((m) => m.type === 'error').at(-1)).toMatchObject({ code: 'UNSUPPORTED_MEDIA', message: expect.stringContaining('H.264 header is malformed') });
  });
});
