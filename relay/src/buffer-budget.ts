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
 *
 * The decision is taken in a microtask, outside the call that pushed the total over: `set` runs
 * inside a session's queue callback, and ending another session (or this one) from there would
 * re-enter sessions and queues half-way through a write. By the time the check runs, the total is
 * read again: a holder that let go in the meantime is not told.
 */
export class BufferBudget {
  private total = 0;
  private readonly held = new Map<BufferHolder, number>();
  private checkQueued = false;

  constructor(readonly limit: number) {}

  /** Media held by all sessions now. */
  get used(): number {
    return this.total;
  }

  /** Records what `holder` holds now (0 once it holds nothing, or has ended). Never calls back synchronously. */
  set(holder: BufferHolder, bytes: number): void {
    this.total += bytes - (this.held.get(holder) ?? 0);
    if (bytes > 0) this.held.set(holder, bytes);
    else this.held.delete(holder);
    if (this.total <= this.limit || this.checkQueued) return;
    this.checkQueued = true;
    queueMicrotask(() => this.check());
  }

  /** Tells the holder with the most to end, if the budget is still exceeded. */
  private check(): void {
    this.checkQueued = false;
    if (this.total <= this.limit) return;
    let largest: BufferHolder | undefined;
    let most = 0;
    for (const [h, n] of this.held) {
      if (n > most) [largest, most] = [h, n];
    }
    largest?.overBudget();
  }
}
