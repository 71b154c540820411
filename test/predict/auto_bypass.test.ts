import { describe, expect, it } from 'vitest';
import { AutoBypass, type AutoBypassSettings } from '../../src/predict/auto_bypass.js';

const SETTINGS: AutoBypassSettings = { hitRatio: 0.5, windowRows: 10, recheckMs: 1000, roundTrips: 1 };

/** An AutoBypass on a clock the test moves, with the costs it sets. */
function harness(costs: { runMs: number; roundTripMs: number | undefined }, settings = SETTINGS) {
  const clock = { now: 0 };
  const changes: boolean[] = [];
  const auto = new AutoBypass(
    settings,
    { runMs: () => costs.runMs, roundTripMs: () => costs.roundTripMs },
    () => clock.now,
    (on) => changes.push(on),
  );
  return { auto, clock, changes, costs };
}

const CHEAP = { runMs: 0.2, roundTripMs: 0.5 };

describe('auto-bypass of a model version', () => {
  it('bypasses once a full window hits below the threshold while a run costs less than a round trip', () => {
    const { auto, changes } = harness(CHEAP);
    auto.observe(4, 1);
    auto.observe(6, 1);
    expect(auto.bypassing()).toBe(true);
    expect(auto.bypassed).toBe(true);
    expect(changes).toEqual([true]);
  });

  it('judges nothing before the window is full', () => {
    const { auto, changes } = harness(CHEAP);
    for (let i = 0; i < 9; i++) auto.observe(1, 0);
    expect(auto.bypassing()).toBe(false);
    expect(changes).toEqual([]);
    auto.observe(1, 0);
    expect(auto.bypassing()).toBe(true);
  });

  it('keeps caching a version whose hit ratio reaches the threshold', () => {
    const { auto } = harness(CHEAP);
    auto.observe(10, 5);
    expect(auto.bypassing()).toBe(false);
  });

  it('keeps caching a version whose run costs more than a round trip, however poor its hit ratio', () => {
    const { auto } = harness({ runMs: 2, roundTripMs: 1 });
    auto.observe(10, 0);
    expect(auto.bypassing()).toBe(false);
  });

  it('never bypasses without an L2 round trip to save', () => {
    const { auto } = harness({ runMs: 0.01, roundTripMs: undefined });
    auto.observe(10, 0);
    expect(auto.bypassing()).toBe(false);
  });

  it('counts a run as cheap below the configured number of round trips', () => {
    const { auto } = harness({ runMs: 3, roundTripMs: 1 }, { ...SETTINGS, roundTrips: 4 });
    auto.observe(10, 0);
    expect(auto.bypassing()).toBe(true);
  });

  it('reads the costs when the window is judged, not before', () => {
    const { auto, costs } = harness({ runMs: 5, roundTripMs: 1 });
    auto.observe(9, 0);
    costs.runMs = 0.5;
    auto.observe(1, 0);
    expect(auto.bypassing()).toBe(true);
  });

  it('starts each window afresh: the hits of a good window do not lift the next one', () => {
    const { auto } = harness(CHEAP);
    auto.observe(10, 10);
    expect(auto.bypassing()).toBe(false);
    auto.observe(10, 0);
    expect(auto.bypassing()).toBe(true);
  });

  it('stays bypassed until the recheck time, ignoring what it is told meanwhile', () => {
    const { auto, clock } = harness(CHEAP);
    clock.now = 5000;
    auto.observe(10, 0);
    clock.now = 5999;
    auto.observe(10, 10);
    expect(auto.bypassing()).toBe(true);
    expect(auto.bypassed).toBe(true);
  });

  it('caches again for one window after the recheck time, and leaves the bypass when that window hits', () => {
    const { auto, clock, changes } = harness(CHEAP);
    auto.observe(10, 0);
    clock.now = 1000;
    expect(auto.bypassed).toBe(true);
    expect(auto.bypassing()).toBe(false);
    expect(auto.bypassed).toBe(false);
    auto.observe(10, 8);
    clock.now = 100_000;
    expect(auto.bypassing()).toBe(false);
    expect(changes).toEqual([true, false]);
  });

  it('bypasses again when the window after the recheck time still hits below the threshold', () => {
    const { auto, clock, changes } = harness(CHEAP);
    auto.observe(10, 0);
    clock.now = 1000;
    expect(auto.bypassing()).toBe(false);
    auto.observe(10, 4);
    expect(auto.bypassing()).toBe(true);
    clock.now = 1999;
    expect(auto.bypassing()).toBe(true);
    clock.now = 2000;
    expect(auto.bypassing()).toBe(false);
    expect(changes).toEqual([true, false, true, false]);
  });
});
