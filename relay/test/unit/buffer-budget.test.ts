import { describe, expect, test } from 'bun:test';
import { BufferBudget, type BufferHolder } from '../../src/buffer-budget.ts';

// RELAY_MAX_TOTAL_BUFFERED_BYTES (docs/pipeline.md#backpressure-and-limits): past the budget, the
// holder with the most is told to end, and only that one; it is told in a microtask, after the call
// that pushed the total over has returned (never from inside it).

/** Resolves after the microtasks queued so far (the budget's check among them) have run. */
const settle = () => new Promise<void>((resolve) => queueMicrotask(resolve));

function holder(name: string, told: string[]): BufferHolder {
  return { overBudget: () => told.push(name) };
}

describe('the relay-wide media budget', () => {
  test('within the budget nobody is told; past it, the holder with the most is, whoever added last', async () => {
    const told: string[] = [];
    const budget = new BufferBudget(1000);
    const [slow, quick, other] = [holder('slow', told), holder('quick', told), holder('other', told)];
    budget.set(slow, 600);
    budget.set(quick, 100);
    budget.set(other, 300);
    expect(budget.used).toBe(1000);
    expect(told).toEqual([]);
    budget.set(quick, 150);
    await settle();
    expect(told).toEqual(['slow']);
  });

  test('what a holder gives back, or setting it to 0 once it ended, leaves the total', async () => {
    const told: string[] = [];
    const budget = new BufferBudget(1000);
    const [a, b] = [holder('a', told), holder('b', told)];
    budget.set(a, 900);
    budget.set(a, 200);
    budget.set(b, 800);
    expect(budget.used).toBe(1000);
    budget.set(a, 0);
    budget.set(a, 0);
    expect(budget.used).toBe(800);
    budget.set(b, 1000);
    await settle();
    expect(told).toEqual([]);
    budget.set(b, 1001);
    await settle();
    expect(told).toEqual(['b']);
  });

  test('the holder is told after the call that pushed the total over returns, not inside it', async () => {
    const budget = new BufferBudget(1000);
    let inside = false;
    const toldInside: boolean[] = [];
    const slow: BufferHolder = { overBudget: () => toldInside.push(inside) };
    // What a session's queue callback does: record its bytes, then carry on with its own write.
    inside = true;
    budget.set(slow, 1001);
    budget.set(slow, 1200);
    expect(toldInside).toEqual([]);
    inside = false;
    await settle();
    expect(toldInside).toEqual([false]);
  });

  test('a holder that gives its media back when told is told once, from no deeper than the check, and no other is told', async () => {
    const budget = new BufferBudget(1000);
    let depth = 0;
    let deepest = 0;
    const told: string[] = [];
    const ending = (name: string): BufferHolder => {
      const h: BufferHolder = {
        overBudget: () => {
          depth += 1;
          deepest = Math.max(deepest, depth);
          told.push(name);
          // A session that ends gives its media back at once, from inside overBudget.
          budget.set(h, 0);
          depth -= 1;
        },
      };
      return h;
    };
    const [a, b] = [ending('a'), ending('b')];
    budget.set(a, 700);
    budget.set(b, 600);
    budget.set(b, 650);
    await settle();
    expect(told).toEqual(['a']);
    expect(deepest).toBe(1);
    expect(budget.used).toBe(650);
    await settle();
    expect(told).toEqual(['a']);
  });

  test('a holder that lets go before the check runs is not told', async () => {
    const told: string[] = [];
    const budget = new BufferBudget(1000);
    const a = holder('a', told);
    budget.set(a, 1500);
    budget.set(a, 100);
    await settle();
    expect(told).toEqual([]);
  });
});
