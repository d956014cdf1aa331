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
  const ws = new WebSocket(wsUrl, { tls: { rejectUnauthorized: false } } as any);
  ws.binaryType = 'arraybuffer';
  let isClosed = false;
  const closed = new Promise<void>((resolve) => {
    ws.onclose = (ev) => {
      isClosed = true;
      result.closeCode = ev.code;
      result.closeReason = ev.reason;
      resolve();
    };
  });
  ws.onmessage = (ev) => {
    if (typeof ev.data === 'string') result.messages.push(JSON.parse(ev.data));
  };
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`could not connect to ${wsUrl}`));
  });
  for (const frame of frames) {
    if (isClosed) break;
    const f = typeof frame === 'function' ? await frame(result.messages) : frame;
    if (f !== undefined && !isClosed) ws.send(f);
  }
  const timedOut = await Promise.race([closed.then(() => false), Bun.sleep(timeoutMs).then(() => true)]);
  if (timedOut) {
    ws.close();
    throw new Error(`relay did not close within ${timeoutMs} ms; messages: ${JSON.stringify(result.messages)}`);
  }
  return result;
}

/** Resolves once a message of `type` has arrived (polls the shared array). */
export async function until(messages: any[], type: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!messages.some((m) => m.type === type)) {
    if (Date.now() > deadline) throw new Error(`no "${type}" message within ${timeoutMs} ms: ${JSON.stringify(messages)}`);
    await Bun.sleep(20);
  }
}
