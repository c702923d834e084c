import type { Clock } from './cli.ts';

/**
 * At most `perSecond` units in each one-second tick of the clock. `take(n)` waits (on the injected clock) for the
 * next tick when the current one cannot hold `n` more, so a test can count what each tick received.
 */
export class RateLimiter {
  readonly perSecond: number;
  readonly #clock: Clock;
  #tick = Number.NEGATIVE_INFINITY;
  #used = 0;

  constructor(perSecond: number, clock: Clock) {
    if (!(perSecond >= 1)) throw new Error(`rate must be at least 1 per second, not ${perSecond}`);
    this.perSecond = Math.floor(perSecond);
    this.#clock = clock;
  }

  async take(n: number): Promise<void> {
    if (n > this.perSecond) throw new Error(`cannot take ${n} at once at ${this.perSecond} per second`);
    for (;;) {
      const now = this.#clock.now();
      const tick = Math.floor(now / 1000);
      if (tick !== this.#tick) {
        this.#tick = tick;
        this.#used = 0;
      }
      if (this.#used + n <= this.perSecond) {
        this.#used += n;
        return;
      }
      await this.#clock.sleep((tick + 1) * 1000 - now);
    }
  }
}
