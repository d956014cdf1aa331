import { appendFileSync } from 'node:fs';
import { log } from './telemetry.ts';

/** A frame queued this soon after its FFmpeg was spawned counts as a start frame: it may wait for FFmpeg to start. */
const START_WINDOW_MS = 1000;
const FLUSH_INTERVAL_MS = 1000;

/**
 * The relay's own delay measurement, for the benchmark (`RELAY_DELAY_TRACE_FILE`,
 * docs/configuration.md#variables): how long each media frame waits in the relay, from the moment
 * the session receives it until FFmpeg's stdin pipe has taken all of it. Once a second (and at
 * {@link DelayTrace.flush}) it appends one JSON line to the file, when there is anything to say:
 *
 *     {"t": <epoch ms>, "us": [µs, …], "startUs": [µs, …], "pauses": <n>}
 *
 * `us`: the delay of each frame taken in that second; `startUs`: the same for frames queued in the
 * first second after their session's FFmpeg was spawned; `pauses`: how many times a session paused
 * its socket for backpressure. Time a frame spent in the kernel before the relay read it is not
 * included. Sessions and FFmpeg processes hold it only when the variable is set: off, it costs nothing.
 */
export class DelayTrace {
  private readonly arrivals = new WeakMap<Uint8Array, number>();
  private readonly startFrames = new WeakSet<Uint8Array>();
  private delays: number[] = [];
  private startDelays: number[] = [];
  private pauses = 0;
  private failed = false;
  private readonly timer: Timer;

  constructor(private readonly path: string) {
    this.timer = setInterval(() => this.flush(), FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  /** A session received a media frame. The frame object is the one queued and written, so it keys the time. */
  frameArrived(frame: Uint8Array): void {
    this.arrivals.set(frame, performance.now());
  }

  /** An FFmpeg spawned at `spawnedAt` (a `performance.now()` time) queued a frame for its stdin. */
  frameQueued(frame: Uint8Array, spawnedAt: number): void {
    if (performance.now() - spawnedAt < START_WINDOW_MS) this.startFrames.add(frame);
  }

  /** FFmpeg's stdin pipe has taken all of a frame. */
  frameTaken(frame: Uint8Array): void {
    const at = this.arrivals.get(frame);
    if (at === undefined) return;
    this.arrivals.delete(frame);
    (this.startFrames.delete(frame) ? this.startDelays : this.delays).push(Math.round((performance.now() - at) * 1000));
  }

  /** A session paused reading its socket because FFmpeg's stdin was backed up. */
  socketPaused(): void {
    this.pauses++;
  }

  /** Appends what was collected since the last line, if anything. */
  flush(): void {
    if (this.delays.length === 0 && this.startDelays.length === 0 && this.pauses === 0) return;
    const line = JSON.stringify({ t: Date.now(), us: this.delays, startUs: this.startDelays, pauses: this.pauses });
    this.delays = [];
    this.startDelays = [];
    this.pauses = 0;
    try {
      appendFileSync(this.path, `${line}\n`);
    } catch (e) {
      // A trace that cannot be written must not disturb the sessions it measures; said once.
      if (!this.failed) log('warn', 'could not write the delay trace', { variable: 'RELAY_DELAY_TRACE_FILE', file: this.path, error: String(e) });
      this.failed = true;
    }
  }

  /** Stops the timer and writes the last line. */
  stop(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
