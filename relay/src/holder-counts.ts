/**
 * How many of something (sessions, connections waiting to start) each holder (a client address, a
 * token subject) holds. A holder whose count falls to zero is forgotten, so the map holds only holders
 * that hold something and cannot grow with every client that ever connected.
 */
export class HolderCounts {
  private readonly counts = new Map<string, number>();

  /** What `holder` holds now. */
  of(holder: string): number {
    return this.counts.get(holder) ?? 0;
  }

  /** Holders holding anything. */
  get holders(): number {
    return this.counts.size;
  }

  add(holder: string): void {
    this.counts.set(holder, this.of(holder) + 1);
  }

  remove(holder: string): void {
    const n = this.of(holder) - 1;
    if (n > 0) this.counts.set(holder, n);
    else this.counts.delete(holder);
  }
}
