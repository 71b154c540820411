import {
  alternate,
  type Comparison,
  type Contender,
  contenderRows,
  roundRatios,
  untilComplete,
} from './alternate.js';
import { L2_BATCH } from './l2_values.js';
import type { ScenarioResult, Value } from './report.js';
import { profileSelf } from './self_profile.js';

export interface L2Report {
  readonly name: string;
  readonly title: string;
  readonly settings: Record<string, Value>;
  readonly comparison: Comparison;
  /** The contender measured against the baseline, and the target of its ratio. */
  readonly ours: string;
  readonly baseline: string;
  readonly target: number;
  /** Further contenders reported against the baseline, for information. */
  readonly others?: readonly string[];
  readonly notes: readonly string[];
}

/**
 * The result of an L2 batch comparison. The ratio with the target is of the
 * median call in each round: other processes on the machine add time to
 * calls of both sides alike, which pulls a ratio of means towards 1 and
 * would hide an overhead of ours; the median call is the least disturbed.
 * The ratio of means (GC and tails included) is reported beside it.
 */
export function l2Result(r: L2Report): ScenarioResult {
  const ratios: ScenarioResult['ratios'] = {};
  const perRound: string[] = [];
  for (const name of [r.ours, ...(r.others ?? [])]) {
    for (const stat of name === r.ours ? (['p50Ms', 'meanMs'] as const) : (['p50Ms'] as const)) {
      const x = roundRatios(r.comparison, name, r.baseline, stat);
      const what = `${name}/${r.baseline}, ${stat === 'p50Ms' ? 'median' : 'mean'} call`;
      const targeted = name === r.ours && stat === 'p50Ms';
      ratios[`time ${what}, median of rounds`] = targeted
        ? { value: x.median, target: `<= ${r.target}`, met: x.median <= r.target }
        : { value: x.median };
      perRound.push(`per-round time ratios ${what}: ${fmtRatios(x.perRound)}`);
    }
  }
  return {
    name: r.name,
    title: r.title,
    settings: r.settings,
    ratios,
    phases: contenderRows(r.comparison),
    notes: [
      ...perRound,
      'The target is on the median call of each round (other processes add time to both sides and pull a ratio of means towards 1); the mean-call ratio includes GC and tails.',
      ...r.notes,
    ],
    details: { rounds: r.comparison.rounds },
  };
}

const fmtRatios = (xs: readonly number[]) => xs.map((x) => x.toFixed(3)).join(', ');

/**
 * The L2 batch contenders timed the same way in both scenarios: each run
 * until it answers every key, then alternated in rounds (L2_BATCH), then
 * the first two (ours and the baseline) profiled when BENCH_CPU_PROF asks.
 */
export async function timeL2Contenders(
  scenario: string,
  contenders: Contender[],
  keys: number,
): Promise<Comparison> {
  for (const c of contenders) await untilComplete(c, keys);
  const comparison = await alternate(contenders, {
    rounds: L2_BATCH.rounds,
    iterations: L2_BATCH.iterations,
    turns: L2_BATCH.turns,
    warmupIterations: L2_BATCH.warmup,
    expected: keys,
  });
  for (const c of contenders.slice(0, 2)) {
    await profileSelf(`${scenario}-${c.name.replace(/\W+/g, '_')}`, async () => {
      for (let i = 0; i < L2_BATCH.iterations * 3; i++) await c.run();
    });
  }
  return comparison;
}
