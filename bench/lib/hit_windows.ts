/** Where the rows of GetFeatures answers came from (infercache.v1 FeatureSource, 1-based). */
export const SOURCES = ['l1', 'l2', 'origin', 'none'] as const;

export type Counts = Record<(typeof SOURCES)[number], number>;

export const zeroCounts = (): Counts => ({ l1: 0, l2: 0, origin: 0, none: 0 });

export function sumCounts(buckets: readonly Counts[]): Counts {
  const t = zeroCounts();
  for (const b of buckets) for (const s of SOURCES) t[s] += b[s];
  return t;
}

const rows = (c: Counts) => c.l1 + c.l2 + c.origin + c.none;
export const l1Ratio = (c: Counts) => c.l1 / rows(c);
export const l2Ratio = (c: Counts) => c.l2 / rows(c);

/**
 * The L1 hit ratio of every window of `width` buckets, sliding one bucket
 * at a time: with 100 ms buckets and a width of 10, a 1 s window every 100 ms.
 */
export function slidingL1(buckets: readonly Counts[], width: number): number[] {
  const out: number[] = [];
  for (let i = 0; i + width <= buckets.length; i++) out.push(l1Ratio(sumCounts(buckets.slice(i, i + width))));
  return out;
}
