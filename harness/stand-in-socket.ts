import type { Page } from 'playwright-core';

/** How the in-page stand-in relay behaves. */
export interface StandInOptions {
  /** Each media chunk adds its size × this to `bufferedAmount`, which never drains (0: always drained). */
  readonly bufferFactor?: number;
  /** How long the stand-in "validates" a start message before `ready`. */
  readonly readyDelayMs?: number;
}

/** What the stand-in saw, on `window.standIn` in the page. */
export interface StandInRecord {
  /** `send start <mimeType>`, `send stop`, `ready`, and whatever the test adds. */
  readonly log: string[];
  /** Media chunks sent. */
  chunks: number;
  /**
   * The first bytes of media sent (the container's header comes first): the first chunks, joined
   * until they hold at least 64 bytes. A recorder may cut its header into several chunks (Chromium's
   * MediaRecorder on a busy machine has sent a 1-byte first one).
   */
  head?: Blob;
  /** Sockets opened. */
  sockets: number;
}

/**
 * Replaces the page's WebSocket with a stand-in relay speaking the protocol's happy path
 * (docs/protocol.md: `start` → `ready`, `stop` → `ended` and a 1000 close), for client behaviour
 * a real relay on loopback cannot show (a socket that never drains, a slow `ready`). What it saw
 * is on `window.standIn` ({@link StandInRecord}).
 */
export async function installStandInSocket(page: Page, options: StandInOptions = {}): Promise<void> {
  await page.evaluate(({ bufferFactor, readyDelayMs }) => {
    const record: StandInRecord = { log: [], chunks: 0, sockets: 0 };
    (window as unknown as { standIn: StandInRecord }).standIn = record;
    class StandInSocket {
      static readonly CONNECTING = 0;
      static readonly OPEN = 1;
      static readonly CLOSING = 2;
      static readonly CLOSED = 3;
      readyState = 0;
      bufferedAmount = 0;
      binaryType = 'blob';
      onopen: ((e: unknown) => void) | null = null;
      onmessage: ((e: { data: string }) => void) | null = null;
      onclose: ((e: { code: number; reason: string }) => void) | null = null;
      onerror: ((e: unknown) => void) | null = null;
      constructor(readonly url: string) {
        record.sockets += 1;
        setTimeout(() => {
          this.readyState = 1;
          this.onopen?.({});
        }, 10);
      }
      send(data: string | Blob): void {
        if (typeof data !== 'string') {
          record.chunks += 1;
          if (!record.head || record.head.size < 64) record.head = record.head ? new Blob([record.head, data]) : data;
          this.bufferedAmount += data.size * bufferFactor;
          return;
        }
        const message = JSON.parse(data) as { type: string; mimeType?: string };
        record.log.push(message.type === 'start' ? `send start ${message.mimeType}` : `send ${message.type}`);
        const reply = (m: { type: string }, ms: number) => setTimeout(() => {
          if (m.type === 'ready') record.log.push('ready');
          this.onmessage?.({ data: JSON.stringify(m) });
        }, ms);
        if (message.type === 'start') reply({ type: 'ready', session: `stand-in-${record.sockets}`, pipeline: 'copy' } as { type: string }, readyDelayMs);
        if (message.type === 'stop') {
          reply({ type: 'ended' }, 10);
          setTimeout(() => this.close(1000), 20);
        }
      }
      close(code = 1000): void {
        if (this.readyState === 3) return;
        this.readyState = 3;
        setTimeout(() => this.onclose?.({ code, reason: '' }), 0);
      }
    }
    (window as unknown as { WebSocket: unknown }).WebSocket = StandInSocket;
  }, { bufferFactor: options.bufferFactor ?? 0, readyDelayMs: options.readyDelayMs ?? 10 });
}
