import type { Registry } from 'prom-client';

// prom-client checks and hashes the label values on every inc() and
// observe(), even through a child from labels(): about a microsecond and a
// few objects per call, on every request. The metrics a request touches are
// these instead: each label set is a plain object of numbers, found once,
// and the registry reads them only when it is scraped. They speak
// prom-client's registry interface (get/reset), so they are scraped, named
// and formatted with every other metric.

interface Config<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly registers: readonly Registry[];
}

interface Exported {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName?: string;
}

abstract class PlainMetric<L extends string, C> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly aggregator = 'sum';
  #children = new Map<string, { labels: Record<string, string>; child: C }>();

  constructor(config: Config<L>) {
    this.name = config.name;
    this.help = config.help;
    this.labelNames = config.labelNames;
    for (const registry of config.registers) registry.registerMetric(this as never);
  }

  /** The child of these label values, in labelNames order; keep it, it is the fast way in. */
  labels(...values: string[]): C {
    if (values.length !== this.labelNames.length) {
      throw new RangeError(`${this.name} takes ${this.labelNames.length} label values, got ${values.length}`);
    }
    const id = values.join('\u0000');
    let entry = this.#children.get(id);
    if (entry === undefined) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((name, i) => {
        labels[name] = values[i] as string;
      });
      entry = { labels, child: this.newChild() };
      this.#children.set(id, entry);
    }
    return entry.child;
  }

  protected abstract newChild(): C;
  protected abstract export(labels: Record<string, string>, child: C, out: Exported[]): void;

  async get(): Promise<{ name: string; help: string; type: string; values: Exported[]; aggregator: string }> {
    const values: Exported[] = [];
    for (const { labels, child } of this.#children.values()) this.export(labels, child, values);
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.#children = new Map();
  }

  abstract readonly type: string;
}

export interface PlainCounterChild {
  inc(n?: number): void;
}

export class PlainCounter<L extends string> extends PlainMetric<L, PlainCounterChild> {
  readonly type = 'counter';

  protected newChild(): PlainCounterChild & { value: number } {
    return {
      value: 0,
      inc(n = 1) {
        this.value += n;
      },
    };
  }

  protected export(labels: Record<string, string>, child: PlainCounterChild, out: Exported[]): void {
    out.push({ labels, value: (child as unknown as { value: number }).value });
  }
}

export interface PlainHistogramChild {
  observe(value: number): void;
}

interface HistogramState extends PlainHistogramChild {
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

export class PlainHistogram<L extends string> extends PlainMetric<L, PlainHistogramChild> {
  readonly type = 'histogram';
  readonly #bounds: readonly number[];

  constructor(config: Config<L> & { readonly buckets: readonly number[] }) {
    super(config);
    this.#bounds = [...config.buckets].sort((a, b) => a - b);
  }

  protected newChild(): HistogramState {
    const bounds = this.#bounds;
    return {
      counts: new Float64Array(bounds.length),
      sum: 0,
      count: 0,
      observe(value: number) {
        if (!Number.isFinite(value)) return;
        this.sum += value;
        this.count++;
        for (let i = 0; i < bounds.length; i++) {
          if (value <= (bounds[i] as number)) {
            (this.counts as Float64Array)[i] = ((this.counts as Float64Array)[i] as number) + 1;
            return;
          }
        }
      },
    };
  }

  protected export(labels: Record<string, string>, child: PlainHistogramChild, out: Exported[]): void {
    const state = child as HistogramState;
    let cumulative = 0;
    this.#bounds.forEach((bound, i) => {
      cumulative += state.counts[i] as number;
      out.push({ labels: { le: bound, ...labels }, value: cumulative, metricName: `${this.name}_bucket` });
    });
    out.push({ labels: { le: '+Inf', ...labels }, value: state.count, metricName: `${this.name}_bucket` });
    out.push({ labels, value: state.sum, metricName: `${this.name}_sum` });
    out.push({ labels, value: state.count, metricName: `${this.name}_count` });
  }
}
