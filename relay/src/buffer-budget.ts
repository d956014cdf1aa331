/** A session as the budget sees it: something that holds media and can be made to let go. */
export interface BufferHolder {
  /** Called when the relay's media budget is exhausted and this holder holds the most: it must end. */
  overBudget(): void;
}

/**
 * The relay-wide bound on media held in front of FFmpeg processes, `RELAY_MAX_TOTAL_BUFFERED_BYTES`
 * (docs/pipeline.md#backpressure-and-limits). Each session is bounded by `RELAY_MAX_BUFFERED_BYTES`,
 * but a hundred of them behind one slow ingest could still take the task's memory, and every
 * session with it. When the total passes the budget, the session holding the most (the one whose
 * ingest is slowest) is told to end; the others keep streaming.
 */
export class BufferBudget {
  private total = 0;
  private readonly held = new Map<BufferHolder, number>();

  constructor(readonly limit: number) {}

  /** Media held by all sessions now. */
  get used(): number {
    return this.total;
  }

  /** Records what `holder` holds now (0 once it holds nothing, or has ended). */
  set(holder: BufferHolder, bytes: number): void {
    this.total += bytes - (this.held.get(holder) ?? 0);
    if (bytes > 0) this.held.set(holder, bytes);
    else this.held.delete(holder);
    if (this.total <= this.limit) return;
    let largest: BufferHolder | undefined;
    let most = 0;
    for (const [h, n] of this.held) {
      if (n > most) [largest, most] = [h, n];
    }
    largest?.overBudget();
  }
}
