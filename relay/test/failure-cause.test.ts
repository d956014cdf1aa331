import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { garbleSpsId, makeLiveH264Matroska, withVideoCodecPrivate } from '../../harness/matroska.ts';
import { streamFile } from '../../harness/media.ts';
import { startRelayFixture, type RelayFixture } from '../../harness/relay-fixture.ts';
import type { RelayProcess } from '../../harness/relay-process.ts';
import type { RtmpServer } from '../../harness/rtmp-server.ts';
import { failureCause, FAILURE_WINDOW_MS, type ErrorLine } from '../src/ffmpeg.ts';

// A session's failure is the FFmpeg output that coincides with it (relay/src/ffmpeg.ts failureCause),
// never an error FFmpeg logged earlier and lived through.

const line = (at: number, side: ErrorLine['side'], detail: string, fatal = false): ErrorLine => ({ at, side, detail, fatal });

describe('failureCause', () => {
  test('an early warning is not the cause of a failure seconds later', () => {
    const lines = [line(1000, 'input', 'h264: sps_id 1 out of range'), line(9000, 'unknown', 'aost#0:1: Error encoding')];
    expect(failureCause(lines, 9100)).toEqual({ side: 'unknown', detail: 'aost#0:1: Error encoding' });
  });

  test('among the failure\'s lines output outranks input, and within a side the first line is the cause', () => {
    const lines = [
      line(5000, 'input', 'h264: sps_id 1 out of range'),
      line(9000, 'output', 'tls: The TLS connection was non-properly terminated.'),
      line(9001, 'output', 'av_interleaved_write_frame(): Input/output error'),
      line(9002, 'input', 'pipe:0: Invalid data found when processing input'),
    ];
    expect(failureCause(lines, 9010)).toEqual({ side: 'output', detail: 'tls: The TLS connection was non-properly terminated.' });
  });

  test('with nothing at the exit, the last fatal line; with no fatal line either, no cause', () => {
    const early = [line(1000, 'input', 'h264: sps_id 1 out of range'), line(2000, 'output', 'flv: a fatal one', true), line(3000, 'input', 'late but not fatal')];
    expect(failureCause(early, 3000 + FAILURE_WINDOW_MS + 1)).toEqual({ side: 'output', detail: 'flv: a fatal one' });
    expect(failureCause([line(1000, 'input', 'h264: sps_id 1 out of range')], 60_000)).toBeUndefined();
  });
});

describe('a stream that warns early and fails later (real FFmpeg)', () => {
  let fixture: RelayFixture;
  let rtmp: RtmpServer;
  let relay: RelayProcess;
  let clip: string;

  beforeAll(async () => {
    fixture = await startRelayFixture();
    ({ rtmp, relay } = fixture);
    // Live Matroska (unknown sizes, as a browser streams it) whose SPS passes the relay's header
    // check but names an impossible sps_id: FFmpeg logs `sps_id 32 out of range` (an input-side
    // error) as it opens the input, and goes on. The failure comes later, from the ingest.
    const live = await makeLiveH264Matroska(6);
    clip = join(tmpdir(), `relay-warn-then-fail-${process.pid}.mkv`);
    await Bun.write(clip, withVideoCodecPrivate(live, garbleSpsId));
  });

  afterAll(async () => {
    await fixture?.stop();
    await rm(clip, { force: true });
  });

  test('the session\'s cause is the ingest dropping, not the header warning at the start', async () => {
    const key = 'sk_warn_then_fail_5e6f';
    const r = await streamFile(relay.wsUrl, fixture.startMessage(key), clip, {
      seconds: 6,
      onMessage(msg) {
        if (msg.type === 'live') setTimeout(() => void rtmp.restart(), 2500);
      },
    });
    expect(r.gotLive).toBe(true);
    expect(r.closeCode).toBe(4502);
    expect(r.messages.filter((m) => m.type === 'error').at(-1)).toMatchObject({ code: 'INGEST_FAILED' });
    const session = r.messages.find((m) => m.type === 'ready')!.session;
    const exit = relay.logs.find((l) => l.msg === 'ffmpeg exited' && l.session === session);
    expect(exit).toBeDefined();
    expect(exit!.failure).toBe('output');
    expect(String(exit!.detail)).not.toContain('sps_id');
    expect(relay.output()).not.toContain('sk_warn_then_fail');
  });
});
