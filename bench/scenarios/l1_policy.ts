import type { L1Policy } from '../../src/cache/bounded_store.js';
import { type SimResult, simulate } from '../../src/cache/simulator.js';
import { loadTrace } from '../../src/cache/trace.js';
import { resultsTable } from '../../src/cli/simulate.js';
import { progress } from '../lib/log.js';
import type { ScenarioResult } from '../lib/report.js';

const KEYS = 100_000;
const ACCESSES = 1_000_000;
const SEED = 1;
// L1 at 1% and 10% of the bytes of the distinct keys of the popular set.
const CAPACITY_SHARES = [0.01, 0.1];

interface KindWorkload {
  /** L1 cost of one entry: payload plus bookkeeping, as measured or typical. */
  readonly entryBytes: number;
  /** `loop` is sized per L1 size: 1.25 times the entries L1 holds. */
  readonly traces: readonly string[];
  readonly why: string;
}

/**
 * What each kind's L1 sees, as far as we can tell without production
 * traces: predictions are looked up by request rows (Zipf-like), with batch
 * scoring jobs that scan many rows once or replay a data set; feature rows
 * by entity, with bulk reads and entities that become popular; embeddings by
 * entity, with catalogue re-embedding loops.
 */
const WORKLOADS: Record<'p' | 'f' | 'e', KindWorkload> = {
  p: {
    entryBytes: 528, // A heavy-model prediction row in L1, as the zipf scenario measures it (about 526).
    traces: ['zipf:0.8', 'zipf:1.0', 'zipf:1.2', 'scan:1.0', 'loop'],
    why: 'request rows, Zipf-like; batch jobs scan rows once or replay a data set',
  },
  f: {
    entryBytes: 400,
    traces: ['zipf:0.8', 'zipf:1.0', 'zipf:1.2', 'scan:1.0', 'shift:1.0'],
    why: 'entities, Zipf-like; bulk reads; new entities become popular',
  },
  e: {
    entryBytes: 1184, // 256 float32 and the entry overhead.
    traces: ['zipf:0.8', 'zipf:1.0', 'scan:1.0', 'loop'],
    why: 'entities, Zipf-like; the catalogue is re-embedded in loops',
  },
};

/** The policy a kind gets by default: tinylfu only where it beats lru on every trace and size. */
function chosenPolicies(results: Record<string, readonly SimResult[]>): Record<string, L1Policy> {
  const out: Record<string, L1Policy> = {};
  for (const [kind, rs] of Object.entries(results)) {
    const lru = rs.filter((r) => r.policy === 'lru');
    const wins = lru.every((l) => {
      const t = rs.find(
        (r) => r.policy === 'tinylfu' && r.trace === l.trace && r.capacityBytes === l.capacityBytes,
      );
      return t !== undefined && t.hitRatio > l.hitRatio;
    });
    out[kind] = wins ? 'tinylfu' : 'lru';
  }
  return out;
}

export interface PolicyRun {
  readonly perKind: Record<string, SimResult[]>;
  readonly headline: SimResult[];
  readonly markdown: string;
}

/** Every kind's traces through lru, tinylfu and Belady, then Zipf(0.99) over 1M keys at 1%. */
export function runPolicies(): PolicyRun {
  const perKind: Record<string, SimResult[]> = {};
  const sections: string[] = [];
  for (const [kind, w] of Object.entries(WORKLOADS)) {
    const results: SimResult[] = [];
    for (const share of CAPACITY_SHARES) {
      const capacity = Math.round(KEYS * w.entryBytes * share);
      for (const spec of w.traces) {
        progress(`  ${kind}: ${spec} at ${capacity} bytes`);
        const keys = spec === 'loop' ? Math.ceil((1.25 * capacity) / w.entryBytes) : KEYS;
        const trace = loadTrace(spec, { keys, accesses: ACCESSES, entryBytes: w.entryBytes, seed: SEED });
        for (const policy of ['lru', 'tinylfu', 'opt'] as const)
          results.push(simulate(trace, policy, capacity));
      }
    }
    perKind[kind] = results;
    sections.push(
      `**${kind}** (${w.why}; ${w.entryBytes}-byte entries)\n\n${resultsTable(results, 'markdown')}`,
    );
  }
  progress('  zipf:0.99 over 1M keys, L1 at 1%');
  const big = loadTrace('zipf:0.99', { keys: 1_000_000, accesses: 3_000_000, entryBytes: 512, seed: SEED });
  const headline = (['lru', 'tinylfu', 'opt'] as const).map((p) => simulate(big, p, 10_000 * 512));
  const chosen = chosenPolicies(perKind);
  const policy = Object.entries(chosen)
    .map(([k, p]) => `${k}=${p}`)
    .join(',');
  const markdown = [
    `Synthetic traces of ${ACCESSES} accesses over ${KEYS} keys (seed ${SEED}), L1 at 1% and 10% of their bytes; \`loop\` cycles over 1.25 times what L1 holds. Hit ratios in percent; \`opt\` is Belady's policy, which knows the future.`,
    ...sections,
    `**Zipf(0.99) over 1,000,000 keys, L1 at 1% (3,000,000 accesses)**\n\n${resultsTable(headline, 'markdown')}`,
    `Chosen default (tinylfu only where it beats lru on every trace and size of the kind): \`INFERCACHE_L1_POLICY=${policy}\``,
  ].join('\n\n');
  return { perKind, headline, markdown };
}

export async function l1Policy(): Promise<ScenarioResult> {
  const run = runPolicies();
  const [lru, tiny, opt] = run.headline.map((r) => r.hitRatio) as [number, number, number];
  const phases: ScenarioResult['phases'] = {};
  for (const [kind, rs] of Object.entries(run.perKind)) {
    for (const r of rs) {
      const row = `${kind} ${r.trace} @${r.capacityBytes}`;
      phases[row] = { ...phases[row], [`${r.policy}HitPct`]: 100 * r.hitRatio };
    }
  }
  return {
    name: 'l1_policy',
    title: 'L1 policies on synthetic traces (simulator): lru vs W-TinyLFU vs Belady',
    settings: {
      keys: KEYS,
      accesses: ACCESSES,
      seed: SEED,
      chosen: JSON.stringify(chosenPolicies(run.perKind)),
    },
    ratios: {
      'zipf(0.99) 1M keys, L1 1%: tinylfu − lru (points)': {
        value: 100 * (tiny - lru),
        target: '>= 5',
        met: 100 * (tiny - lru) >= 5,
      },
      'zipf(0.99) 1M keys, L1 1%: tinylfu/opt': { value: tiny / opt },
      'zipf(0.99) 1M keys, L1 1%: lru/opt': { value: lru / opt },
    },
    phases,
    notes: [
      'The stores replayed are the ones L1 runs (tiny_lfu.ts, lru-cache); `npm run bench:policy` writes the README table.',
    ],
    // Per kind, every simulation: the run's charts draw hit ratio against L1 size from them.
    details: { simResults: run.perKind },
  };
}
