/**
 * The browser client's connection leg as a state machine, without a browser: a stand-in socket
 * and a stand-in MediaRecorder, both driven by hand, so that every transition (and the races a
 * real relay rarely shows, such as a stop answered by an error) is reached on purpose. The
 * browser suites next to this file run the same code against a real relay.
 */

import { join } from 'node:path';
import { describe, expect, test } from 'bun:test';
import { REPO_ROOT } from '../../../harness/relay-process.ts';
import type { BufferPolicy } from '../../public/backpressure.ts';
import type { BitrateStep } from '../../public/bitrate-controller.ts';
import { ConnectionLeg, MAX_MEDIA_FRAME_BYTES, type LegEvents, type LegOptions } from '../../public/connection-leg.ts';
import { outcomeOfClose } from '../../public/leg-outcome.ts';
import type { Recorder } from '../../public/recorder.ts';

/** A WebSocket that does nothing by itself: the test opens it, speaks for the relay and closes it. */
class StandInSocket {
  readyState = 0;
  bufferedAmount = 0;
  binaryType = 'blob';
  onopen: ((e: unknown) => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;
  /** Every frame sent: text frames parsed, media as `chunk:<text>`. */
  readonly sent: unknown[] = [];
  /** The codes close() was called with (undefined: no code). */
  readonly closeCalls: (number | undefined)[] = [];

  send(data: string | Blob): void {
    this.sent.push(typeof data === 'string' ? JSON.parse(data) : data);
  }
  close(code?: number): void {
    this.closeCalls.push(code);
    if (this.readyState < 2) this.readyState = 2;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(message: object | ArrayBuffer): void {
    this.onmessage?.({ data: message instanceof ArrayBuffer ? message : JSON.stringify(message) });
  }
  closed(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  /** The `type` of each text frame, and `chunk` for each media frame, in order. */
  frames(): string[] {
    return this.sent.map((f) => (f instanceof Blob ? 'chunk' : (f as { type: string }).type));
  }
}

/** A MediaRecorder as the leg sees it: stop() is synchronous, its last chunk and `stop` follow in a task. */
class StandInRecorder {
  state: 'inactive' | 'recording' = 'inactive';
  ondataavailable: ((e: { data: Blob }) => void) | null = null;
  onerror: ((e: unknown) => void) | null = null;
  onstop: ((e: unknown) => void) | null = null;
  timeslice: number | undefined;
  startError: Error | undefined;

  start(timeslice: number): void {
    if (this.startError) throw this.startError;
    this.state = 'recording';
    this.timeslice = timeslice;
  }
  stop(): void {
    this.state = 'inactive';
    setTimeout(() => {
      this.ondataavailable?.({ data: new Blob(['last']) });
      this.onstop?.({});
    }, 0);
  }
  chunk(text = 'media'): void {
    this.ondataavailable?.({ data: new Blob([text]) });
  }
}

const POLICY: BufferPolicy = { warnBytes: 100, reduceBytes: 1000, reduceAfterMs: 0, abortBytes: 10_000, abortAfterMs: 60_000 };
const START = { type: 'start', token: 't', ingest: 'rtmp://127.0.0.1:1/live/', streamKey: 'k', mimeType: 'video/webm;codecs=vp8,opus' } as const;
const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

/**
 * A leg on stand-ins; `calls` logs what it told the broadcast, then `events` (if given) answers.
 * Without an answer, `congested` lowers no bitrate.
 */
function startLeg(options: Partial<LegOptions> = {}, events: Partial<LegEvents> = {}) {
  const socket = new StandInSocket();
  const recorder = (options.recorder as StandInRecorder | undefined) ?? new StandInRecorder();
  const calls: string[] = [];
  const logged: LegEvents = {
    ready: (m) => (calls.push(`ready:${m.session}:${m.pipeline}`), events.ready?.(m)),
    live: (session) => (calls.push(`live:${session}`), events.live?.(session)),
    reconnecting: (m) => (calls.push(`reconnecting:${m.attempt}:${m.code}`), events.reconnecting?.(m)),
    stats: (m, buffered) => (calls.push(`stats:${m.fps}:${buffered}`), events.stats?.(m, buffered)),
    congested: (verdict, buffered) => (calls.push(`congested:${verdict}:${buffered}`), events.congested?.(verdict, buffered) ?? false),
    bitrate: (report) => (calls.push(`bitrate:${report.videoBitsPerSecond}`), events.bitrate?.(report)),
  };
  const leg = new ConnectionLeg(
    {
      url: 'ws://relay.test/v1/stream',
      start: START,
      recorder: recorder as unknown as Recorder,
      timesliceMs: 200,
      connectTimeoutMs: 10_000,
      stopTimeoutMs: 10_000,
      bufferPolicy: POLICY,
      openSocket: () => socket as unknown as WebSocket,
      ...options,
    },
    logged,
  );
  return { leg, socket, recorder, calls };
}

/** A leg that is recording: opened, `ready` received. */
function recordingLeg(options: Partial<LegOptions> = {}, events: Partial<LegEvents> = {}) {
  const run = startLeg(options, events);
  run.socket.open();
  run.socket.receive({ type: 'ready', session: 's1', pipeline: 'copy' });
  return run;
}

describe('connection leg: the way through', () => {
  test('opening → awaiting-ready → recording → leaving → settled, every chunk before the stop message', async () => {
    const { leg, socket, recorder, calls } = startLeg();
    expect(leg.state).toBe('opening');
    expect(socket.binaryType).toBe('arraybuffer');

    socket.open();
    expect(leg.state).toBe('awaiting-ready');
    expect(socket.sent).toEqual([START]);
    expect(recorder.state).toBe('inactive'); // not before `ready`

    socket.receive({ type: 'ready', session: 's1', pipeline: 'copy' });
    expect(leg.state).toBe('recording');
    expect(calls).toEqual(['ready:s1:copy']);
    expect(recorder.timeslice).toBe(200);

    recorder.chunk();
    recorder.chunk();
    socket.receive({ type: 'live' });
    socket.receive({ type: 'stats', bitrateKbps: 1, fps: 30, speed: 1, droppedFrames: 0, bufferedBytes: 0 });
    expect(calls).toEqual(['ready:s1:copy', 'live:s1', 'stats:30:0']);

    leg.stop();
    expect(leg.state).toBe('leaving');
    expect(socket.frames()).toEqual(['start', 'chunk', 'chunk']); // the stop waits for the recorder's last chunk
    await tick();
    expect(socket.frames()).toEqual(['start', 'chunk', 'chunk', 'chunk', 'stop']);

    socket.receive({ type: 'ended' });
    socket.closed(1000);
    expect(leg.state).toBe('settled');
    expect(await leg.outcome).toEqual({ kind: 'stopped' });
  });

  test('a second ready, binary frames and unknown messages change nothing', () => {
    const { leg, socket, calls } = recordingLeg();
    socket.receive({ type: 'ready', session: 's2', pipeline: 'transcode' });
    socket.receive(new ArrayBuffer(4));
    socket.receive({ type: 'future' });
    expect(leg.state).toBe('recording');
    expect(calls).toEqual(['ready:s1:copy']);
    leg.stop();
    socket.closed(1000);
  });

  test('a chunk larger than a frame may be goes as consecutive frames whose concatenation is the chunk; a smaller one as itself', async () => {
    const { socket, recorder } = recordingLeg();
    const big = new Uint8Array(2 * MAX_MEDIA_FRAME_BYTES + 1000).map((_, i) => i % 251);
    recorder.ondataavailable?.({ data: new Blob([big]) });
    recorder.chunk('small');
    const frames = socket.sent.slice(1) as Blob[];
    expect(frames.map((f) => f.size)).toEqual([MAX_MEDIA_FRAME_BYTES, MAX_MEDIA_FRAME_BYTES, 1000, 5]);
    expect(new Uint8Array(await new Blob(frames.slice(0, 3)).arrayBuffer())).toEqual(big);
    expect(await frames[3]!.text()).toBe('small');
    // docs/protocol.md#media states the same bound.
    expect(await Bun.file(join(REPO_ROOT, 'docs', 'protocol.md')).text()).toContain(`at most ${MAX_MEDIA_FRAME_BYTES / 1024} KiB in a frame`);
  });

  test('bufferedAmount is the socket’s', () => {
    const { leg, socket } = startLeg();
    socket.bufferedAmount = 1234;
    expect(leg.bufferedAmount).toBe(1234);
    leg.stop();
  });
});

describe('connection leg: reconnecting (docs/protocol.md#reconnecting)', () => {
  const RECONNECTING = { type: 'reconnecting', attempt: 1, code: 'INGEST_FAILED', message: 'ingest refused or dropped the connection', retryInMs: 500 };

  test('the recorder stops; on the next ready, `resume` goes before the first chunk of a new recording', async () => {
    const { leg, socket, recorder, calls } = recordingLeg();
    recorder.chunk();
    socket.receive({ type: 'live' });
    socket.receive(RECONNECTING);
    expect(leg.state).toBe('reconnecting');
    expect(recorder.state).toBe('inactive');
    await tick();
    // The stopped recording's last chunk is dropped: the relay would drop it anyway.
    expect(socket.frames()).toEqual(['start', 'chunk']);

    socket.receive({ type: 'ready', session: 's1', pipeline: 'copy' });
    expect(leg.state).toBe('recording');
    expect(recorder.state).toBe('recording');
    recorder.chunk('new header');
    expect(socket.frames()).toEqual(['start', 'chunk', 'resume', 'chunk']);
    socket.receive({ type: 'live' });
    expect(calls).toEqual(['ready:s1:copy', 'live:s1', 'reconnecting:1:INGEST_FAILED', 'ready:s1:copy', 'live:s1']);
    leg.stop();
    socket.closed(1000);
    expect(await leg.outcome).toEqual({ kind: 'stopped' });
  });

  test('a stop while reconnecting is sent at once; the relay\'s `ended` and 1000 settle it', async () => {
    const { leg, socket } = recordingLeg();
    socket.receive(RECONNECTING);
    leg.stop();
    expect(leg.state).toBe('leaving');
    expect(socket.frames()).toEqual(['start', 'stop']);
    socket.receive({ type: 'ended' });
    socket.closed(1000);
    expect(await leg.outcome).toEqual({ kind: 'stopped' });
  });

  test('the window running out is the relay\'s error and close, as for any failure', async () => {
    const { leg, socket } = recordingLeg();
    socket.receive(RECONNECTING);
    socket.receive({ type: 'error', code: 'INGEST_FAILED', message: 'ingest refused or dropped the connection' });
    socket.closed(4502);
    expect(await leg.outcome).toMatchObject({ kind: 'failed', code: 'INGEST_FAILED' });
  });
});

describe('connection leg: stopping', () => {
  test('before ready there is nothing to flush: close 1000 and settle at once', async () => {
    for (const opened of [false, true]) {
      const { leg, socket, recorder } = startLeg();
      if (opened) socket.open();
      leg.stop();
      expect(leg.state).toBe('settled');
      expect(socket.closeCalls).toEqual([1000]);
      expect(socket.frames()).toEqual(opened ? ['start'] : []);
      expect(recorder.timeslice).toBeUndefined();
      expect(await leg.outcome).toEqual({ kind: 'stopped' });
      socket.closed(1000); // the close that follows changes nothing
      expect(leg.state).toBe('settled');
    }
  });

  test('a stop answered by an error (no ended, no 1000) ends with that error', async () => {
    const { leg, socket } = recordingLeg();
    leg.stop();
    await tick();
    socket.receive({ type: 'error', code: 'INGEST_FAILED', message: 'ingest did not accept the end of the stream in time' });
    socket.closed(4502);
    expect(await leg.outcome).toEqual({
      kind: 'failed',
      code: 'INGEST_FAILED',
      message: 'ingest did not accept the end of the stream in time',
      closeCode: 4502,
      failover: false,
    });
  });

  test('after ended, any close is a clean stop', async () => {
    const { leg, socket } = recordingLeg();
    leg.stop();
    await tick();
    socket.receive({ type: 'ended' });
    socket.closed(1006);
    expect(await leg.outcome).toEqual({ kind: 'stopped' });
  });

  test('a relay that never closes after the stop message is closed after stopTimeoutMs', async () => {
    const { leg, socket } = recordingLeg({ stopTimeoutMs: 20 });
    leg.stop();
    await tick();
    expect(socket.frames().at(-1)).toBe('stop');
    expect(leg.state).toBe('leaving');
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(socket.closeCalls).toEqual([1000]);
    expect(leg.state).toBe('settled');
    expect(await leg.outcome).toEqual({ kind: 'stopped' });
  });

  test('a ready listener that stops the broadcast: no recording, the stop message at once', () => {
    const { leg, socket, recorder } = startLeg({}, { ready: () => leg.stop() });
    socket.open();
    socket.receive({ type: 'ready', session: 's1', pipeline: 'copy' });
    expect(leg.state).toBe('leaving');
    expect(recorder.timeslice).toBeUndefined();
    expect(socket.frames()).toEqual(['start', 'stop']);
    socket.closed(1000);
  });

  test('live while leaving is still reported: it resets the broadcast’s failover count', () => {
    const { leg, socket, calls } = recordingLeg();
    leg.stop();
    socket.receive({ type: 'live' });
    expect(calls.at(-1)).toBe('live:s1');
    socket.closed(1000);
  });
});

describe('connection leg: timeouts and failures', () => {
  test('connect timeout: the message says which step the relay missed; both fail over', async () => {
    const silent = startLeg({ connectTimeoutMs: 10 });
    const mute = startLeg({ connectTimeoutMs: 10 });
    mute.socket.open();
    const [notOpened, noReady] = await Promise.all([silent.leg.outcome, mute.leg.outcome]);
    expect(notOpened).toEqual({ kind: 'failed', code: 'CONNECTION_FAILED', message: 'The relay did not accept the connection in time.', failover: true });
    expect(noReady).toEqual({ kind: 'failed', code: 'CONNECTION_FAILED', message: 'The relay did not answer the start message in time.', failover: true });
    expect(silent.socket.closeCalls).toEqual([undefined]);
  });

  test('ready clears the connect timeout', async () => {
    const { leg, socket } = recordingLeg({ connectTimeoutMs: 10 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(leg.state).toBe('recording');
    leg.stop();
    socket.closed(1000);
  });

  test('a close that was not asked for: 4013 and drops fail over, relay errors are final', async () => {
    const full = startLeg();
    full.socket.open();
    full.socket.receive({ type: 'error', code: 'UNAVAILABLE', message: 'relay is at capacity; try another relay' });
    full.socket.closed(4013);
    expect(await full.leg.outcome).toMatchObject({ kind: 'failed', code: 'UNAVAILABLE', closeCode: 4013, failover: true });

    const refused = startLeg();
    refused.socket.open();
    refused.socket.receive({ type: 'error', code: 'UNAUTHORIZED', message: 'bad token' });
    refused.socket.closed(4001);
    expect(await refused.leg.outcome).toEqual({ kind: 'failed', code: 'UNAUTHORIZED', message: 'bad token', closeCode: 4001, failover: false });

    const unreachable = startLeg();
    unreachable.socket.closed(1006);
    expect(await unreachable.leg.outcome).toMatchObject({ code: 'CONNECTION_FAILED', failover: true });

    const dropped = recordingLeg();
    dropped.socket.closed(1006);
    expect(await dropped.leg.outcome).toMatchObject({ code: 'CONNECTION_LOST', failover: true });
    expect(dropped.recorder.state).toBe('inactive');
  });

  test('a recorder error leaves; the relay’s clean close then ends the leg with RECORDER_FAILED', async () => {
    const { leg, socket, recorder } = recordingLeg();
    recorder.onerror?.({});
    expect(leg.state).toBe('leaving');
    await tick();
    expect(socket.frames().at(-1)).toBe('stop');
    socket.closed(1000);
    expect(await leg.outcome).toMatchObject({ kind: 'failed', code: 'RECORDER_FAILED', failover: false });
  });

  test('a WebCodecs recording that could not start (CaptureStartError) ends the leg with CAPTURE_FAILED and its message', async () => {
    const { leg, socket, recorder } = recordingLeg();
    const error = Object.assign(new Error('The audio capture did not start within 10 s.'), { name: 'CaptureStartError' });
    recorder.onerror?.({ error, message: error.message });
    expect(leg.state).toBe('leaving');
    await tick();
    socket.closed(1000);
    expect(await leg.outcome).toMatchObject({ kind: 'failed', code: 'CAPTURE_FAILED', message: 'The audio capture did not start within 10 s.', failover: false });
  });

  test('a recorder that records nothing: CAPTURE_FAILED once firstChunkTimeoutMs passes; a chunk in time disarms it', async () => {
    const silent = recordingLeg({ firstChunkTimeoutMs: 50 });
    const talking = recordingLeg({ firstChunkTimeoutMs: 50 });
    talking.recorder.chunk();
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(silent.leg.state).toBe('leaving');
    expect(talking.leg.state).toBe('recording');
    silent.socket.closed(1000);
    expect(await silent.leg.outcome).toMatchObject({ kind: 'failed', code: 'CAPTURE_FAILED', message: 'The browser recorded nothing within 0.05 s of starting.' });
    talking.leg.stop();
  });

  test('a recorder whose stop never comes: the stop message goes out after stopTimeoutMs anyway', async () => {
    const recorder = new StandInRecorder();
    recorder.stop = () => void (recorder.state = 'inactive'); // no last chunk, no `stop` event
    const { leg, socket } = recordingLeg({ recorder: recorder as unknown as Recorder, stopTimeoutMs: 50 });
    recorder.chunk();
    leg.stop();
    expect(socket.frames().at(-1)).not.toBe('stop');
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(socket.frames().at(-1)).toBe('stop');
    socket.receive({ type: 'ended' });
    socket.closed(1000);
    expect(await leg.outcome).toMatchObject({ kind: 'stopped' });
  });

  test('a recorder that cannot start: the stop message goes out at once', async () => {
    const { leg, socket, recorder } = startLeg();
    recorder.startError = new Error('NotSupportedError');
    socket.open();
    socket.receive({ type: 'ready', session: 's1', pipeline: 'copy' });
    expect(leg.state).toBe('leaving');
    expect(socket.frames()).toEqual(['start', 'stop']);
    socket.closed(1000);
    expect(await leg.outcome).toMatchObject({ kind: 'failed', code: 'RECORDER_FAILED', message: 'The recorder could not start: Error: NotSupportedError' });
  });
});

describe('connection leg: upload backlog', () => {
  test('a warning is only reported; the leg keeps recording', () => {
    const { leg, socket, recorder, calls } = recordingLeg();
    socket.bufferedAmount = 500;
    recorder.chunk();
    expect(calls.at(-1)).toBe('congested:warn:500');
    expect(leg.state).toBe('recording');
    leg.stop();
    socket.closed(1000);
  });

  test('a lowered bitrate restarts the leg, whatever the close', async () => {
    const { leg, socket, recorder, calls } = recordingLeg({}, { congested: (verdict) => verdict === 'reduce' });
    socket.bufferedAmount = 2000;
    recorder.chunk();
    expect(calls.at(-1)).toBe('congested:reduce:2000');
    expect(leg.state).toBe('leaving');
    leg.stop(); // the first reason to leave stands
    await tick();
    socket.closed(1006);
    expect(await leg.outcome).toEqual({ kind: 'reduce' });
  });

  test('a backlog past the abort mark ends the leg with CONGESTED, without asking the broadcast', async () => {
    const { leg, socket, recorder, calls } = recordingLeg();
    socket.bufferedAmount = 20_000;
    recorder.chunk();
    expect(calls).toEqual(['ready:s1:copy']);
    expect(leg.state).toBe('leaving');
    await tick();
    socket.closed(1000);
    expect(await leg.outcome).toMatchObject({ kind: 'failed', code: 'CONGESTED', failover: false });
  });

  test('a recorder that can drop frames drops them while congested, and asks for a lower bitrate instead of queueing', async () => {
    const drops: boolean[] = [];
    const dropping = Object.assign(new StandInRecorder(), { dropFrames: (drop: boolean) => drops.push(drop) });
    const { leg, socket, recorder, calls } = recordingLeg(
      { recorder: dropping as unknown as Recorder, bufferPolicy: { ...POLICY, reduceAfterMs: 50 } },
      { congested: (verdict) => verdict === 'reduce' },
    );
    socket.bufferedAmount = 100;
    recorder.chunk();
    expect(drops).toEqual([true]);
    socket.bufferedAmount = 40;
    recorder.chunk();
    expect(drops).toEqual([true, false]);
    socket.bufferedAmount = 100;
    recorder.chunk();
    expect(drops).toEqual([true, false, true]);
    // The backlog never reaches reduceBytes (1000): the time spent dropping lowers the bitrate.
    expect(calls.filter((c) => c.startsWith('congested:reduce'))).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 60));
    recorder.chunk();
    expect(calls.at(-1)).toBe('congested:reduce:100');
    expect(leg.state).toBe('leaving');
    await tick();
    socket.closed(1000);
    expect(await leg.outcome).toEqual({ kind: 'reduce' });
  });

  test('a recorder whose bitrate follows the uplink: set in place, reported, never a restart; CONGESTED with the follower\'s message', async () => {
    const bitrates: number[] = [];
    const drops: boolean[] = [];
    const adjustable = Object.assign(new StandInRecorder(), {
      dropFrames: (drop: boolean) => drops.push(drop),
      setVideoBitrate: (bps: number) => bitrates.push(bps),
    });
    // A follower scripted step by step: lower, drop, then give up.
    const steps: BitrateStep[] = [
      { videoBitsPerSecond: 1_000_000, changed: false, drop: false, report: { videoBitsPerSecond: 1_000_000, backlogMs: 0 } },
      {
        videoBitsPerSecond: 600_000,
        changed: true,
        drop: true,
        report: { videoBitsPerSecond: 600_000, uplinkBitsPerSecond: 700_000, backlogMs: 650 },
      },
      { videoBitsPerSecond: 600_000, changed: false, drop: true },
      { videoBitsPerSecond: 600_000, changed: false, drop: true, congested: 'The upload carried 0.10 Mbit/s for 10 s.' },
    ];
    const samples: number[] = [];
    const follower = { inPlace: true, sample: (s: { bufferedAmount: number; sentBytes: number }) => (samples.push(s.sentBytes), steps.shift()!) };
    const { leg, socket, recorder, calls } = recordingLeg(
      { recorder: adjustable as unknown as Recorder, bitrate: follower, bufferPolicy: { ...POLICY, reduceAfterMs: 0 } },
      { congested: (verdict) => verdict === 'reduce' },
    );
    // A backlog past every mark of the policy: in place, it is the follower that decides.
    socket.bufferedAmount = 2000;
    recorder.chunk('12345');
    recorder.chunk('12345');
    recorder.chunk('12345');
    expect(bitrates).toEqual([600_000]);
    expect(drops).toEqual([true]);
    expect(calls.filter((c) => c.startsWith('bitrate'))).toEqual(['bitrate:1000000', 'bitrate:600000']);
    expect(calls.filter((c) => c.startsWith('congested:reduce'))).toEqual([]);
    // Each look is taken before the chunk joins the queue: what was sent so far, not counting it.
    expect(samples).toEqual([0, 5, 10]);
    expect(leg.state).toBe('recording');
    recorder.chunk('12345');
    expect(leg.state).toBe('leaving');
    await tick();
    socket.closed(1000);
    expect(await leg.outcome).toEqual({ kind: 'failed', code: 'CONGESTED', message: 'The upload carried 0.10 Mbit/s for 10 s.', failover: false });
  });

  test('the relay\'s count of what it received reaches the follower with the socket\'s own count; a relay without it leaves the follower alone', async () => {
    const reports: { received: number; sent: number; buffered: number }[] = [];
    const step: BitrateStep = { videoBitsPerSecond: 1_000_000, changed: false, drop: false };
    const follower = {
      inPlace: true,
      sample: () => step,
      relayReceived: (_at: number, received: number, s: { bufferedAmount: number; sentBytes: number }) => {
        reports.push({ received, sent: s.sentBytes, buffered: s.bufferedAmount });
      },
    };
    const { socket, recorder } = recordingLeg({ bitrate: follower });
    recorder.chunk('12345');
    recorder.chunk('1234567890');
    socket.bufferedAmount = 6;
    socket.receive({ type: 'stats', bitrateKbps: 1, fps: 30, speed: 1, droppedFrames: 0, bufferedBytes: 0, receivedBytes: 9, reconnects: 0, downMs: 0 });
    socket.receive({ type: 'stats', bitrateKbps: 1, fps: 30, speed: 1, droppedFrames: 0, bufferedBytes: 0, reconnects: 0, downMs: 0 });
    expect(reports).toEqual([{ received: 9, sent: 15, buffered: 6 }]);
  });

  test('the recorder\'s last chunk after stop is not judged for congestion', async () => {
    const { leg, socket, recorder, calls } = recordingLeg({}, { congested: (verdict) => verdict === 'reduce' });
    leg.stop();
    socket.bufferedAmount = 2000;
    recorder.chunk();
    expect(calls.filter((c) => c.startsWith('congested'))).toEqual([]);
    await tick();
    socket.closed(1000);
    expect(await leg.outcome).toMatchObject({ kind: 'stopped' });
  });

  test('a stalled socket is sampled between chunks too', async () => {
    const { leg, socket, calls } = recordingLeg();
    socket.bufferedAmount = 500;
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(calls.at(-1)).toBe('congested:warn:500');
    leg.stop();
    socket.closed(1000);
  });
});

describe('close classification', () => {
  test('the error frame wins over the close code; without one the close code decides', () => {
    expect(outcomeOfClose({ code: 1000, reason: '' }, { code: 'UNAVAILABLE', message: 'draining' }, true)).toMatchObject({ code: 'UNAVAILABLE', failover: true });
    expect(outcomeOfClose({ code: 4013, reason: '' }, undefined, true)).toMatchObject({ code: 'UNAVAILABLE', message: 'The relay is at capacity or draining.' });
    expect(outcomeOfClose({ code: 4415, reason: 'UNSUPPORTED_MEDIA' }, undefined, true)).toEqual({
      kind: 'failed',
      code: 'UNSUPPORTED_MEDIA',
      message: 'UNSUPPORTED_MEDIA',
      closeCode: 4415,
      failover: false,
    });
    expect(outcomeOfClose({ code: 1000, reason: '' }, undefined, true)).toMatchObject({ code: 'CONNECTION_LOST', failover: true });
    // A relay's close with no reason and no error frame still says what failed.
    expect(outcomeOfClose({ code: 4502, reason: '' }, undefined, true)).toMatchObject({ code: 'INGEST_FAILED', message: 'INGEST_FAILED' });
    expect(outcomeOfClose({ code: 1006, reason: '' }, undefined, false)).toMatchObject({ code: 'CONNECTION_FAILED', failover: true });
  });
});
