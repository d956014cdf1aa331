/** What a short protocol exchange produced. */
export interface Exchange {
  messages: any[];
  closeCode: number;
  closeReason: string;
}

/**
 * Connects, sends `frames` in order (strings as text frames, bytes as binary; a function is
 * called with the messages so far and may return a frame to send, or wait), and resolves when
 * the relay closes the socket.
 */
export async function exchange(
  wsUrl: string,
  frames: (string | Uint8Array<ArrayBuffer> | ((messages: any[]) => Promise<string | Uint8Array<ArrayBuffer> | undefined>))[],
  timeoutMs = 20_000,
): Promise<Exchange> {
  const result: Exchange = { messages: [], closeCode: 0, closeReason: '' };
  const socket = await openRelaySocket(wsUrl, (msg) => result.messages.push(msg));
  for (const frame of frames) {
    if (socket.isClosed()) break;
    const f = typeof frame === 'function' ? await frame(result.messages) : frame;
    if (f !== undefined && !socket.isClosed()) socket.ws.send(f);
  }
  Object.assign(result, await socket.closedWithin(timeoutMs, () => JSON.stringify(result.messages)));
  return result;
}

/** An open WebSocket to a relay, and how it closed. */
export interface RelaySocket {
  readonly ws: WebSocket;
  isClosed(): boolean;
  /** Resolves with the close; after `timeoutMs` closes the socket itself and throws, naming `context()`. */
  closedWithin(timeoutMs: number, context: () => string): Promise<{ closeCode: number; closeReason: string }>;
}

/**
 * Opens a WebSocket to a relay (accepting a test relay's self-signed certificate), hands every
 * text frame, parsed, to `onText`, and resolves once it is open.
 */
export async function openRelaySocket(wsUrl: string, onText: (msg: any, ws: WebSocket) => void, onClose?: () => void): Promise<RelaySocket> {
  const ws = new WebSocket(wsUrl, { tls: { rejectUnauthorized: false } } as any);
  ws.binaryType = 'arraybuffer';
  let isClosed = false;
  const closed = new Promise<{ closeCode: number; closeReason: string }>((resolve) => {
    ws.onclose = (ev) => {
      isClosed = true;
      onClose?.();
      resolve({ closeCode: ev.code, closeReason: ev.reason });
    };
  });
  ws.onmessage = (ev) => {
    if (typeof ev.data === 'string') onText(JSON.parse(ev.data), ws);
  };
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`could not connect to ${wsUrl}`));
  });
  ws.onerror = null;
  return {
    ws,
    isClosed: () => isClosed,
    async closedWithin(timeoutMs, context) {
      const close = await Promise.race([closed, Bun.sleep(timeoutMs).then(() => undefined)]);
      if (close) return close;
      ws.close();
      throw new Error(`relay did not close within ${timeoutMs} ms; messages: ${context()}`);
    },
  };
}

/** Resolves once a message of `type` has arrived (polls the shared array). */
export async function until(messages: any[], type: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!messages.some((m) => m.type === type)) {
    if (Date.now() > deadline) throw new Error(`no "${type}" message within ${timeoutMs} ms: ${JSON.stringify(messages)}`);
    await Bun.sleep(20);
  }
}
