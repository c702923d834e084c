/**
 * A concurrency bound. Powertools' BatchProcessor runs every message of a batch at once (`Promise.all`, no limit
 * option in 2.x), and one message may carry several S3 records; this caps the S3 and DynamoDB calls in flight so
 * that a large batch does not exhaust sockets or burst into throttling.
 */

export type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

/** Returns a function that runs tasks with at most `max` of them in flight, the rest waiting in FIFO order. */
export function createLimiter(max: number): Limiter {
  if (!Number.isInteger(max) || max < 1)
    throw new RangeError(`concurrency must be a positive integer, got ${max}`);
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    // A finishing task hands its slot straight to the next waiter, so a newcomer can never slip in between.
    if (active < max) active += 1;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active -= 1;
    }
  };
}
