/** Where one row of a response came from. */
export type RowSource = 'l1' | 'l2' | 'model';

type Children = Record<RowSource, { inc(n: number): void }>;

/** A counter labelled by model and source: prom-client's, or a plain one (ops/plain_metrics.ts). */
interface LabelledCounter {
  labels(model: string, source: string): { inc(n: number): void };
}

/** Counts answered rows by model and source (infercache_rows_total). */
export class SourceCounter {
  readonly #rows: LabelledCounter;
  // prom-client hashes label values on every labels() call; this runs per call.
  readonly #children = new Map<string, Children>();

  constructor(rows: LabelledCounter) {
    this.#rows = rows;
  }

  count(model: string, sources: readonly RowSource[]): void {
    let l1 = 0;
    let l2 = 0;
    for (const s of sources) {
      if (s === 'l1') l1++;
      else if (s === 'l2') l2++;
    }
    const c = this.#childrenOf(model);
    if (l1 > 0) c.l1.inc(l1);
    if (l2 > 0) c.l2.inc(l2);
    if (sources.length - l1 - l2 > 0) c.model.inc(sources.length - l1 - l2);
  }

  #childrenOf(model: string): Children {
    let c = this.#children.get(model);
    if (c === undefined) {
      const rows = this.#rows;
      c = { l1: rows.labels(model, 'l1'), l2: rows.labels(model, 'l2'), model: rows.labels(model, 'model') };
      this.#children.set(model, c);
    }
    return c;
  }
}
