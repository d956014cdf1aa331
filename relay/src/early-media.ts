import { SessionError } from './protocol.ts';

/**
 * Media the compatibility route sends before FFmpeg is ready (docs/protocol.md#compatibility-route):
 * its client does not wait for `ready`. Held until the session starts, within RELAY_MAX_BUFFERED_BYTES.
 */
export class EarlyMedia {
  readonly chunks: Uint8Array[] = [];
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** @throws SessionError INGEST_FAILED past the bound */
  push(chunk: Uint8Array): void {
    this.bytes += chunk.byteLength;
    if (this.bytes > this.maxBytes) throw new SessionError('INGEST_FAILED', 'too much media before the relay was ready');
    this.chunks.push(chunk);
  }
}
