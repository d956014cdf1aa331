/** What the slot invariant compares: capacity's count and ffmpeg.ts's. */
export interface SlotCounts {
  /** Capacity slots held (capacity.held, the `sessions` of /healthz). */
  readonly slotsHeld: number;
  /** FFmpeg processes spawned and not yet reaped. */
  readonly ffmpegRunning: number;
}

/**
 * Why the counts disagree, or `undefined` when they agree. A slot is taken and its FFmpeg spawned in
 * one synchronous step, and given back in the microtask after that FFmpeg is reaped, so between two
 * tasks the two numbers are always equal. When they are not, the accounting is broken: slots leak
 * until the relay refuses everyone, or FFmpegs run uncounted past RELAY_MAX_SESSIONS.
 */
export function slotInvariantProblem(counts: SlotCounts): string | undefined {
  if (counts.slotsHeld === counts.ffmpegRunning) return undefined;
  return `${counts.slotsHeld} capacity slots held but ${counts.ffmpegRunning} FFmpeg processes running`;
}

/**
 * Checks the invariant every `intervalMs` and calls `onBroken` once it has failed on two checks in a
 * row: a relay whose accounting is broken cannot be trusted to heal, and is better replaced (ECS
 * starts a new task) than left refusing or overloading. The second look guards against stopping
 * every live session over a disagreement no one has foreseen that would have passed by itself.
 * Returns a function that stops the checks.
 */
export function watchSlotInvariant(read: () => SlotCounts, onBroken: (problem: string, counts: SlotCounts) => void, intervalMs: number): () => void {
  let failedBefore = false;
  const timer = setInterval(() => {
    const counts = read();
    const problem = slotInvariantProblem(counts);
    if (problem && failedBefore) {
      clearInterval(timer);
      onBroken(problem, counts);
    }
    failedBefore = problem !== undefined;
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
