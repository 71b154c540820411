import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RateLimiter } from '../../src/warming/rate_limiter.js';

/** Whether `p` has settled, once pending callbacks have run. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  await vi.advanceTimersByTimeAsync(0);
  return done;
}

describe('RateLimiter', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const limiter = (perSecond: number) => new RateLimiter(perSecond, () => Date.now());
  const never = new AbortController().signal;

  it('lets one second’s worth go at once, then paces the rest', async () => {
    const rl = limiter(10);
    expect(await settled(rl.take(10, never))).toBe(true);
    const next = rl.take(5, never);
    expect(await settled(next)).toBe(false);
    await vi.advanceTimersByTimeAsync(490);
    expect(await settled(next)).toBe(false);
    await vi.advanceTimersByTimeAsync(20);
    expect(await settled(next)).toBe(true);
  });

  it('makes a batch larger than a second’s worth wait for all of its rows', async () => {
    const rl = limiter(10);
    const big = rl.take(30, never);
    // 10 rows from the full bucket, 20 more at 10 rows/s: 2 s.
    await vi.advanceTimersByTimeAsync(1900);
    expect(await settled(big)).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    expect(await settled(big)).toBe(true);
  });

  it('never lets more rows through than the rate allows plus one second’s burst, batches larger than that too', async () => {
    const rl = limiter(50);
    const start = Date.now();
    let rows = 0;
    let stop = false;
    let excess = Number.NEGATIVE_INFINITY;
    void (async () => {
      while (!stop) {
        await rl.take(70, never);
        rows += 70;
        excess = Math.max(excess, rows - (50 + (50 * (Date.now() - start)) / 1000));
      }
    })();
    await vi.advanceTimersByTimeAsync(20_000);
    stop = true;
    // (1e-6: the bound is met exactly at some steps, up to rounding.)
    expect(excess).toBeLessThanOrEqual(1e-6);
    // And it does not starve either: close to the rate over 20 s.
    expect(rows).toBeGreaterThan(50 * 20 * 0.9);
  });

  it('rejects a wait when its signal fires, and leaves no timer behind', async () => {
    const rl = limiter(1);
    await rl.take(1, never);
    const controller = new AbortController();
    const waiting = rl.take(1, controller.signal);
    const outcome = waiting.then(
      () => 'resolved',
      (e: unknown) => e,
    );
    expect(vi.getTimerCount()).toBe(1);
    controller.abort(new Error('stop'));
    expect(await outcome).toEqual(new Error('stop'));
    expect(vi.getTimerCount()).toBe(0);
    await expect(rl.take(1, AbortSignal.abort(new Error('already')))).rejects.toThrow('already');
  });
});
