import { describe, expect, it } from 'vitest';
import { createLimiter } from '../src/concurrency.ts';

/** A task whose completion the test controls. */
function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('createLimiter', () => {
  it('never runs more than max tasks at once, and runs max of them concurrently', async () => {
    const limit = createLimiter(3);
    let active = 0;
    let peak = 0;
    const tasks = Array.from({ length: 10 }, (_, i) =>
      limit(async () => {
        active += 1;
        peak = Math.max(peak, active);
        await new Promise((r) => setTimeout(r, 1 + (i % 3)));
        active -= 1;
        return i;
      }),
    );
    expect(await Promise.all(tasks)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(peak).toBe(3);
  });

  it('starts waiting tasks in FIFO order', async () => {
    const limit = createLimiter(1);
    const order: number[] = [];
    await Promise.all([1, 2, 3, 4].map((n) => limit(async () => order.push(n))));
    expect(order).toEqual([1, 2, 3, 4]);
  });

  it('does not let a newcomer overtake a waiter when a slot frees up', async () => {
    const limit = createLimiter(1);
    const first = deferred();
    let active = 0;
    let peak = 0;
    const run = (gate: Promise<void>) =>
      limit(async () => {
        active += 1;
        peak = Math.max(peak, active);
        await gate;
        active -= 1;
      });
    const a = run(first.promise);
    const b = run(Promise.resolve());
    first.resolve();
    // Submitted in the same tick as the release: must queue behind b, not run alongside it.
    const c = run(Promise.resolve());
    await Promise.all([a, b, c]);
    expect(peak).toBe(1);
  });

  it('frees the slot when a task fails, and passes the error through', async () => {
    const limit = createLimiter(1);
    await expect(limit(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(limit(async () => 'next')).resolves.toBe('next');
  });

  it('refuses a bound below 1', () => {
    expect(() => createLimiter(0)).toThrow(RangeError);
  });
});
