import { describe, expect, it } from 'vitest';
import { CostAverage, refreshDue } from '../../src/cache/early_refresh.js';

describe('early refresh (XFetch)', () => {
  const fixed = (u: number) => () => u;

  it('draws no number for a row further from expiry than any draw could reach', () => {
    let draws = 0;
    const counted = () => {
      draws++;
      return 1 - 2 ** -53;
    };
    // The largest -ln(u) Math.random can give is 53 ln 2 (36.7): at 38 × delta × beta it is never due.
    expect(refreshDue(0, 38, 1, 1, counted)).toBe(false);
    expect(draws).toBe(0);
    expect(refreshDue(0, 36, 1, 1, counted)).toBe(true);
    expect(draws).toBe(1);
  });

  it('is never due far from expiry, always due once expired, never with beta 0', () => {
    // 10 s left, a 1 ms recomputation: only u below e^-10000 would do.
    expect(refreshDue(0, 10_000, 1, 1, fixed(0.999))).toBe(false);
    expect(refreshDue(0, 10_000, 1, 1, fixed(0.5))).toBe(false);
    expect(refreshDue(10_000, 10_000, 1, 1, fixed(0))).toBe(true);
    expect(refreshDue(12_000, 10_000, 1, 1, fixed(0))).toBe(true);
    expect(refreshDue(12_000, 10_000, 1, 0, fixed(0.999))).toBe(false);
  });

  it('becomes more likely as expiry nears, and sooner for a dearer recomputation or a larger beta', () => {
    const share = (now: number, deltaMs: number, beta: number) => {
      let due = 0;
      for (let i = 1; i <= 1000; i++) if (refreshDue(now, 1000, deltaMs, beta, fixed(i / 1001))) due++;
      return due / 1000;
    };
    const far = share(0, 100, 1);
    const near = share(800, 100, 1);
    const nearer = share(950, 100, 1);
    expect(far).toBeLessThan(near);
    expect(near).toBeLessThan(nearer);
    // With u uniform, the chance is exactly e^(-left / (delta * beta)).
    expect(near).toBeCloseTo(Math.exp(-200 / 100), 1);
    expect(share(800, 200, 1)).toBeGreaterThan(near);
    expect(share(800, 100, 4)).toBeGreaterThan(near);
  });

  it('averages costs, starting from the initial guess', () => {
    const cost = new CostAverage(10, 0.5);
    expect(cost.ms).toBe(10);
    cost.add(30);
    expect(cost.ms).toBe(20);
    cost.add(Number.NaN);
    expect(cost.ms).toBe(20);
  });
});
