import { performance } from 'node:perf_hooks';
import { progress } from './log.js';
import { median, summarize } from './stats.js';

/** One way of doing the measured work, e.g. our cache or the raw client. */
export interface Contender {
  readonly name: string;
  /** Does the work once; resolves with how many items it answered. */
  run(): Promise<number>;
}

export interface AlternateOptions {
  readonly rounds: number;
  /** Timed calls of each contender per round, one at a time. */
  readonly iterations: number;
  /** Turns per round: each contender runs iterations / blocks calls per turn. */
  readonly turns: number;
  /** Untimed calls of each contender before round 1 (JIT, connections). */
  readonly warmupIterations: number;
  /** What a complete answer counts; fewer is counted as short (a miss or a timeout). */
  readonly expected: number;
}

export interface RoundTimes {
  readonly round: number;
  readonly order: string[];
  readonly meanMs: Record<string, number>;
  readonly p50Ms: Record<string, number>;
}

export interface Comparison {
  /** Per round: the order of its first turn and each contender's mean and median ms per call. */
  readonly rounds: RoundTimes[];
  /** Every timed call's ms, per contender, all rounds. */
  readonly samplesMs: Record<string, number[]>;
  /** Timed calls that answered fewer than `expected` items, per contender. */
  readonly short: Record<string, number>;
}

/**
 * The order of turn `t`: rotated by one each turn, and reversed every other
 * cycle: over 2n turns each contender starts as often as the others, and
 * runs after each of them in both orders, not always after the same one
 * (the garbage a contender leaves is collected during whichever runs next).
 */
function turnOrder<T>(xs: readonly T[], t: number): T[] {
  const at = t % xs.length;
  const rotated = [...xs.slice(at), ...xs.slice(0, at)];
  return Math.floor(t / xs.length) % 2 === 0 ? rotated : rotated.reverse();
}

/**
 * Times the contenders in the same process, in rounds. A round is made of
 * short turns in which every contender makes a few calls, one after the
 * other, in an order that changes every turn (turnOrder), so a burst of load
 * from elsewhere on the machine (2 shared cores) falls on all of them alike.
 * Ratios are taken per round, where the conditions match.
 */
export async function alternate(contenders: readonly Contender[], o: AlternateOptions): Promise<Comparison> {
  const samplesMs: Record<string, number[]> = {};
  const short: Record<string, number> = {};
  for (const c of contenders) {
    samplesMs[c.name] = [];
    short[c.name] = 0;
    for (let i = 0; i < o.warmupIterations; i++) await c.run();
  }
  const perTurn = Math.max(1, Math.round(o.iterations / o.turns));
  const rounds: Comparison['rounds'] = [];
  let turn = 0;
  for (let round = 1; round <= o.rounds; round++) {
    const order = turnOrder(contenders, turn).map((c) => c.name);
    progress(
      `  round ${round}/${o.rounds}: ${o.turns} turns of ${perTurn} calls per contender, ${order[0]} first`,
    );
    const roundMs: Record<string, number[]> = {};
    for (const c of contenders) roundMs[c.name] = [];
    for (let t = 0; t < o.turns; t++, turn++) {
      for (const c of turnOrder(contenders, turn)) {
        const samples = samplesMs[c.name] as number[];
        for (let i = 0; i < perTurn; i++) {
          const t0 = performance.now();
          const answered = await c.run();
          const ms = performance.now() - t0;
          roundMs[c.name]?.push(ms);
          samples.push(ms);
          if (answered < o.expected) short[c.name] = (short[c.name] ?? 0) + 1;
        }
      }
    }
    const meanMs: Record<string, number> = {};
    const p50Ms: Record<string, number> = {};
    for (const c of contenders) {
      const s = summarize(roundMs[c.name] as number[]);
      meanMs[c.name] = s.meanMs;
      p50Ms[c.name] = s.p50Ms;
    }
    rounds.push({ round, order, meanMs, p50Ms });
  }
  return { rounds, samplesMs, short };
}

/** `a`'s time per call over `b`'s (by `stat` within each round), per round, and their median. */
export function roundRatios(
  c: Comparison,
  a: string,
  b: string,
  stat: 'p50Ms' | 'meanMs',
): { perRound: number[]; median: number } {
  const perRound = c.rounds.map((r) => (r[stat][a] as number) / (r[stat][b] as number));
  return { perRound, median: median(perRound) };
}

/** A phase row for each contender: mean and percentiles of its calls, over all rounds. */
export function contenderRows(c: Comparison): Record<string, Record<string, number>> {
  const rows: Record<string, Record<string, number>> = {};
  for (const [name, samples] of Object.entries(c.samplesMs)) {
    const s = summarize(samples);
    rows[name] = {
      meanMs: s.meanMs,
      p50Ms: s.p50Ms,
      p99Ms: s.p99Ms,
      maxMs: s.maxMs,
      calls: s.samples,
      shortCalls: c.short[name] ?? 0,
    };
  }
  return rows;
}

/** Calls `c` until it answers `expected` items: connections come up in the background. */
export async function untilComplete(c: Contender, expected: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answered = await c.run();
    if (answered >= expected) return;
    if (Date.now() > deadline)
      throw new Error(`${c.name}: ${answered} of ${expected} answered after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
