/**
 * How many of something (sessions, connections waiting to start) each client address holds. An
 * address whose count falls to zero is forgotten, so the map holds only addresses that hold something
 * and cannot grow with every address that ever connected.
 */
export class AddressCounts {
  private readonly counts = new Map<string, number>();

  /** What `address` holds now. */
  of(address: string): number {
    return this.counts.get(address) ?? 0;
  }

  /** Addresses holding anything. */
  get addresses(): number {
    return this.counts.size;
  }

  add(address: string): void {
    this.counts.set(address, this.of(address) + 1);
  }

  remove(address: string): void {
    const n = this.of(address) - 1;
    if (n > 0) this.counts.set(address, n);
    else this.counts.delete(address);
  }
}
