import { openRelaySocket } from './ws-client.ts';

/** A stream from {@link startReconnectingStream}. */
export interface ReconnectingStream {
  /** Every text frame from the relay, parsed, in order. */
  readonly messages: any[];
  /** When each message arrived (`performance.now()`), index for index with `messages`. */
  readonly arrivals: number[];
  /** Resolves with the close code. */
  readonly closed: Promise<number>;
  /** Sends `stop` (the relay flushes what it has and ends with `ended` and 1000). */
  stop(): void;
  /** Resolves once `count` messages of `type` have arrived. */
  until(type: string, count?: number, timeoutMs?: number): Promise<void>;
}

/**
 * Streams a media file over the relay protocol the way the browser client does with
 * `reconnect: true` (docs/protocol.md#reconnecting): chunks paced to real time after `ready`; on
 * `reconnecting` it stops sending; on each later `ready` it sends `resume` and then the file again
 * from its start, a new recording with its header and a key frame first.
 */
export async function startReconnectingStream(
  wsUrl: string, start: object, file: string, seconds: number, chunkMs = 250,
): Promise<ReconnectingStream> {
  const bytes = new Uint8Array(await Bun.file(file).arrayBuffer());
  const chunkSize = Math.ceil((bytes.byteLength * chunkMs) / (seconds * 1000));
  const messages: any[] = [];
  const arrivals: number[] = [];
  /** Each recording has its own number: a pump whose recording is over stops. */
  let recording = 0;
  let stopped = false;
  const socket = await openRelaySocket(wsUrl, (msg) => {
    messages.push(msg);
    arrivals.push(performance.now());
    if (msg.type === 'reconnecting') recording++;
    if (msg.type === 'ready') {
      const mine = ++recording;
      if (messages.filter((m) => m.type === 'ready').length > 1) socket.ws.send(JSON.stringify({ type: 'resume' }));
      void pump(mine);
    }
  });
  const pump = async (mine: number) => {
    const t0 = performance.now();
    for (let i = 0; i * chunkSize < bytes.byteLength; i++) {
      const wait = t0 + i * chunkMs - performance.now();
      if (wait > 0) await Bun.sleep(wait);
      if (mine !== recording || stopped || socket.isClosed()) return;
      socket.ws.send(bytes.subarray(i * chunkSize, (i + 1) * chunkSize));
    }
  };
  socket.ws.send(JSON.stringify({ ...start, reconnect: true }));
  return {
    messages,
    arrivals,
    closed: socket.closedWithin(120_000, () => JSON.stringify(messages.slice(-5))).then((c) => c.closeCode),
    stop() {
      stopped = true;
      socket.ws.send(JSON.stringify({ type: 'stop' }));
    },
    async until(type, count = 1, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.filter((m) => m.type === type).length < count) {
        if (Date.now() > deadline) throw new Error(`fewer than ${count} "${type}" within ${timeoutMs} ms: ${JSON.stringify(messages.slice(-5))}`);
        await Bun.sleep(20);
      }
    },
  };
}
