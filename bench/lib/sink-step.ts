import { rm } from 'node:fs/promises';
import { checkSink, type SinkCheck } from './sink-check.ts';
import type { RtmpServer } from '../../harness/rtmp-server.ts';

/**
 * Checks the recordings of a step's stream keys (at most `parallel` ffprobe runs at a time,
 * after the step, so probing never competes with a measurement), then deletes them.
 */
export async function checkRecordings(rtmp: RtmpServer, keys: string[], parallel = 2): Promise<Map<string, SinkCheck | undefined>> {
  const out = new Map<string, SinkCheck | undefined>();
  // nginx closes a recording when the publisher disconnects; a file that stops growing is done.
  await Promise.all(keys.map(async (k) => {
    try {
      await rtmp.waitForRecording(k, 15_000);
    } catch {
      out.set(k, undefined);
    }
  }));
  const todo = keys.filter((k) => !out.has(k));
  const worker = async () => {
    for (let k = todo.shift(); k !== undefined; k = todo.shift()) out.set(k, await checkSink(rtmp.recordingPath(k)));
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  await Promise.all(keys.map((k) => rm(rtmp.recordingPath(k), { force: true })));
  return out;
}
