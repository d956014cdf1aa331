// Copied video reaches the ingest with decode timestamps that only increase (docs/pipeline.md#copy-pipeline),
// even when the browser stamps two frames with one millisecond. Real FFmpeg, real nginx-rtmp.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { expectCleanDecode } from './e2e/recording-checks.ts';
import { EQUAL_STAMPS_CLIP, makeClip } from '../../harness/clips.ts';
import { streamFile } from '../../harness/media.ts';
import { probeRecording } from '../../harness/probe.ts';
import { startRelayFixture, type RelayFixture } from '../../harness/relay-fixture.ts';

const SECONDS = 4;
const MIME = 'video/x-matroska;codecs=avc1.42e01f,opus';

let fixture: RelayFixture;
let clip: string;

beforeAll(async () => {
  fixture = await startRelayFixture();
  clip = await makeClip(EQUAL_STAMPS_CLIP, SECONDS);
});

afterAll(async () => {
  await fixture?.stop();
});

test('two frames stamped with one millisecond: the recording’s video timestamps still increase, and it decodes cleanly', async () => {
  // The clip really has the defect, so the recording's check below can fail.
  expect((await probeRecording(clip)).timestampsMonotonic).toBe(false);

  const key = 'sk_equal_stamps_3c9a1f';
  const result = await streamFile(fixture.relay.wsUrl, fixture.startMessage(key, { mimeType: MIME }), clip, { seconds: SECONDS });
  expect(result.messages[0]).toMatchObject({ type: 'ready', pipeline: 'copy' });
  expect(result.closeCode).toBe(1000);

  const recording = await fixture.rtmp.waitForRecording(key);
  const probe = await probeRecording(recording);
  expect(probe.timestampProblem).toBeUndefined();
  expect(probe).toMatchObject({ videoCodec: 'h264', audioCodec: 'aac', timestampsMonotonic: true, startsWithKeyframe: true });
  expect(Math.abs(probe.durationS - SECONDS)).toBeLessThanOrEqual(SECONDS * 0.1);
  await expectCleanDecode(recording);
});
