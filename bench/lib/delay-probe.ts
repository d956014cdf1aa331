// Preloaded into the relay by the benchmark only (`bun --preload bench/lib/delay-probe.ts
// relay/src/main.ts`): measures, inside the relay process, how long each media frame waits from
// the moment the WebSocket handler hands it to the session until FFmpeg's stdin pipe has taken
// all of it. The relay's code is not changed: two methods are wrapped at load time.
// Every second it appends one JSON line to $BENCH_DELAY_FILE:
//   {"t": <epoch ms>, "us": [µs, …], "startUs": [µs, …], "pauses": <n>}
// `us`: the delay of each frame accepted in that second; `startUs`: the same for frames that
// arrived in the first second of their session's FFmpeg (they may wait for FFmpeg to start);
// `pauses`: how often a session paused its socket for backpressure.
import type { FileSink } from 'bun';
import { appendFileSync } from 'node:fs';
import { FfmpegProcess } from '../../relay/src/ffmpeg.ts';
import { Session } from '../../relay/src/session.ts';

const file = process.env.BENCH_DELAY_FILE;
if (file) install(file);

function install(path: string): void {
  const arrivals = new WeakMap<Uint8Array, number>();
  const startOf = new WeakMap<Uint8Array, boolean>();
  let delays: number[] = [];
  let startDelays: number[] = [];
  let pauses = 0;

  const sessionProto = Session.prototype as unknown as {
    message(data: string | Uint8Array): void;
    setPaused(paused: boolean): void;
    paused: boolean;
  };
  const message = sessionProto.message;
  sessionProto.message = function (this: unknown, data: string | Uint8Array) {
    // The frame object is the one the session queues and writes: it keys its arrival time.
    if (typeof data !== 'string') arrivals.set(data, performance.now());
    return message.call(this, data);
  };
  const setPaused = sessionProto.setPaused;
  sessionProto.setPaused = function (this: { paused: boolean }, paused: boolean) {
    if (paused && !this.paused) pauses++;
    return setPaused.call(this, paused);
  };

  const accepted = (chunk: Uint8Array | undefined) => {
    const at = chunk && arrivals.get(chunk);
    if (at === undefined) return;
    arrivals.delete(chunk!);
    (startOf.get(chunk!) ? startDelays : delays).push(Math.round((performance.now() - at) * 1000));
  };
  // FfmpegProcess writes each chunk with sink.write() then sink.flush() (awaited when the pipe
  // is full); the chunk is accepted when that flush completes.
  const wrapSink = (sink: FileSink): FileSink => {
    let current: Uint8Array | undefined;
    return new Proxy(sink, {
      get(target, prop) {
        if (prop === 'write') {
          return (chunk: Uint8Array) => {
            current = chunk;
            const n = target.write(chunk);
            return typeof n === 'number' ? n : (n as Promise<number>).then((v) => (accepted(chunk), v));
          };
        }
        if (prop === 'flush') {
          return () => {
            const chunk = current;
            current = undefined;
            const n = target.flush();
            if (typeof n === 'number') accepted(chunk);
            else return (n as Promise<number>).then((v) => (accepted(chunk), v));
            return n;
          };
        }
        const v = Reflect.get(target, prop);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  };
  const ffProto = FfmpegProcess.prototype as unknown as { write(chunk: Uint8Array): void };
  const write = ffProto.write;
  ffProto.write = function (this: { sink: FileSink; benchWrapped?: number }, chunk: Uint8Array) {
    if (this.benchWrapped === undefined) {
      this.benchWrapped = performance.now();
      this.sink = wrapSink(this.sink);
    }
    if (performance.now() - this.benchWrapped < 1000) startOf.set(chunk, true);
    return write.call(this, chunk);
  };

  const flushToFile = () => {
    if (delays.length === 0 && startDelays.length === 0 && pauses === 0) return;
    const line = JSON.stringify({ t: Date.now(), us: delays, startUs: startDelays, pauses });
    delays = [];
    startDelays = [];
    pauses = 0;
    appendFileSync(path, `${line}\n`);
  };
  setInterval(flushToFile, 1000).unref();
  process.on('exit', flushToFile);
}
