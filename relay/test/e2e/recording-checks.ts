/**
 * What every browser's recording must be, checked on the file nginx-rtmp wrote: what Amazon IVS
 * takes (H.264 + AAC, a key frame first and at most every 2.1 s, monotonic timestamps), decodable
 * from end to end without a single error, with a well-formed H.264 decoder configuration.
 */

import { expect } from 'bun:test';
import { videoGops } from './keyframes.ts';
import { probeRecording } from '../../../harness/probe.ts';
import { avcConfigProblem, parseAvcConfig } from '../../public/avc-config.ts';
import { FlvReader } from '../../src/outputs/flv.ts';

/**
 * IVS's rules, for a recording of about `seconds`. Key frames are measured on video packets only:
 * probeRecording's maximum also counts audio running on after the last video frame, which says
 * nothing about the GOP; 0.1 s of slack is one or two frames of capture jitter.
 */
export async function expectIvsReadyRecording(recording: string, seconds: number): Promise<void> {
  const probe = await probeRecording(recording);
  expect([probe.videoCodec, probe.audioCodec]).toEqual(['h264', 'aac']);
  expect(probe.startsWithKeyframe).toBe(true);
  if (probe.timestampProblem) console.error(`${recording}: ${probe.timestampProblem}`);
  expect(probe.timestampsMonotonic).toBe(true);
  expect(probe.durationS).toBeGreaterThan(seconds - 2);
  expect(probe.durationS).toBeLessThan(seconds + 10);
  const gops = await videoGops(recording);
  if (gops.maxIntervalS > 2.1) console.error(`keyframes at ${gops.keyframes.map((t) => t.toFixed(3)).join(', ')}`);
  expect(gops.maxIntervalS).toBeLessThanOrEqual(2.1);
}

/**
 * Two decoded frames with one timestamp, which the null muxer reports as equal DTS: seen once on a busy
 * machine with Chromium's MediaRecorder, before the relay spaced copied packets' DTS (probeRecording checks
 * those increase). Tolerated in the decoder's output only; a DTS that goes back is still an error.
 */
const EQUAL_DTS = /^\[null @ 0x[0-9a-f]+\] Application provided invalid, non monotonically increasing dts to muxer in stream \d+: (\d+) >= \1$/;

/** A full decode of every stream prints nothing at `-v error` (no `sps_id out of range`, no broken frame). */
export async function expectCleanDecode(recording: string): Promise<void> {
  const proc = Bun.spawn(['ffmpeg', '-hide_banner', '-nostdin', '-v', 'error', '-i', recording, '-f', 'null', '-'], { stdout: 'ignore', stderr: 'pipe' });
  const [errors, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  expect(errors.split('\n').filter((line) => line !== '' && !EQUAL_DTS.test(line))).toEqual([]);
  expect(code).toBe(0);
}

/** The FLV's first AVC sequence header, as the ingest reads it: an avcC that {@link avcConfigProblem} finds nothing wrong with. */
export async function expectWellFormedAvcC(recording: string): Promise<void> {
  const tags = new FlvReader().push(new Uint8Array(await Bun.file(recording).arrayBuffer()));
  const header = tags.find((t) => t.kind === 'video' && t.sequenceHeader);
  expect(header).toBeDefined();
  // Tag header (11 bytes), then FrameType/CodecID, AVCPacketType and CompositionTime (5 bytes); the PreviousTagSize ends it.
  const avcC = header!.bytes.subarray(11 + 5, header!.bytes.byteLength - 4);
  expect(avcConfigProblem(parseAvcConfig(avcC))).toBeUndefined();
}
