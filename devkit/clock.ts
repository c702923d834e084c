/**
 * Time as the local environment sees it. The queue takes a clock instead of calling Date.now/setTimeout so that
 * its tests can drive visibility timeouts and batching windows deterministically, without sleeping.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `callback` once after `delayMs`; the returned timer can be cancelled. */
  setTimer(callback: () => void, delayMs: number): Timer;
}

export interface Timer {
  cancel(): void;
}

/** The wall clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(callback, delayMs) {
    const handle = setTimeout(callback, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(handle) };
  },
};

interface PendingTimer {
  readonly dueAt: number;
  readonly order: number;
  readonly callback: () => void;
  cancelled: boolean;
}

/**
 * A clock that only moves when told to. `advance` fires due timers in time order and lets promise callbacks run
 * between them, so asynchronous code that reacts to a timer has settled before the next one fires.
 */
export class ManualClock implements Clock {
  private current: number;
  private order = 0;
  private readonly timers: PendingTimer[] = [];

  constructor(startMs = Date.UTC(2025, 0, 1)) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimer(callback: () => void, delayMs: number): Timer {
    const timer: PendingTimer = {
      dueAt: this.current + Math.max(0, delayMs),
      order: this.order++,
      callback,
      cancelled: false,
    };
    this.timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** Timers scheduled and not yet fired or cancelled. */
  pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by `ms`, firing every timer due on the way (including ones scheduled while advancing). */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    await settle();
    for (;;) {
      const next = this.nextDue();
      if (next === undefined || next.dueAt > target) break;
      this.current = Math.max(this.current, next.dueAt);
      // Timers due at the same instant fire together, before promise callbacks run: that instant is one moment.
      const due = this.timers.filter((t) => t.dueAt === next.dueAt).sort((a, b) => a.order - b.order);
      for (const timer of due) {
        this.timers.splice(this.timers.indexOf(timer), 1);
        if (!timer.cancelled) timer.callback();
      }
      await settle();
    }
    this.current = target;
    await settle();
  }

  private nextDue(): PendingTimer | undefined {
    for (let i = this.timers.length - 1; i >= 0; i--) {
      if (this.timers[i]?.cancelled) this.timers.splice(i, 1);
    }
    let best: PendingTimer | undefined;
    for (const t of this.timers) {
      if (!best || t.dueAt < best.dueAt || (t.dueAt === best.dueAt && t.order < best.order)) best = t;
    }
    return best;
  }
}

/** Lets every queued promise callback run: microtasks drain completely before a macrotask is taken. */
export async function settle(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
