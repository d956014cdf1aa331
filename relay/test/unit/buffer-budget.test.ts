import { describe, expect, test } from 'bun:test';
import { BufferBudget, type BufferHolder } from '../../src/buffer-budget.ts';

// RELAY_MAX_TOTAL_BUFFERED_BYTES (docs/pipeline.md#backpressure-and-limits): past the budget, the
// holder with the most is told to end, and only that one.

function holder(name: string, told: string[]): BufferHolder {
  return { overBudget: () => told.push(name) };
}

describe('the relay-wide media budget', () => {
  test('within the budget nobody is told; past it, the holder with the most is, whoever added last', () => {
    const told: string[] = [];
    const budget = new BufferBudget(1000);
    const [slow, quick, other] = [holder('slow', told), holder('quick', told), holder('other', told)];
    budget.set(slow, 600);
    budget.set(quick, 100);
    budget.set(other, 300);
    expect(budget.used).toBe(1000);
    expect(told).toEqual([]);
    budget.set(quick, 150);
    expect(told).toEqual(['slow']);
  });

  test('what a holder gives back, or setting it to 0 once it ended, leaves the total', () => {
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
    expect(told).toEqual([]);
    budget.set(b, 1001);
    expect(told).toEqual(['b']);
  });
});
