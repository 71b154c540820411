import { describe, expect, it } from 'vitest';
import { coarseClock } from '../../src/cache/coarse_clock.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('coarse clock', () => {
  it('reads its source once for a synchronous stretch, and again once the resolution has passed', async () => {
    let reads = 0;
    const clock = coarseClock(1, () => {
      reads++;
      return reads * 1000;
    });
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) seen.add(clock());
    expect(reads).toBe(1);
    expect([...seen]).toEqual([1000]);
    await sleep(10);
    expect(clock()).toBe(2000);
    expect(reads).toBe(2);
  });

  it('follows the real clock within a few ms', async () => {
    const clock = coarseClock();
    const before = clock();
    await sleep(30);
    expect(clock() - before).toBeGreaterThanOrEqual(25);
  });
});
