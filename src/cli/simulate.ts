import { writeFileSync } from 'node:fs';
import { SIM_POLICIES, type SimPolicy, type SimResult, simulate } from '../cache/simulator.js';
import { loadTrace } from '../cache/trace.js';
import { InferCacheError } from '../errors.js';
import { resultsSvg } from './sim_chart.js';

export interface SimulateOptions {
  trace: string[];
  policy: string;
  capacityBytes: string;
  keys: string;
  accesses: string;
  entryBytes: string;
  seed: string;
  output: 'text' | 'json' | 'markdown';
  svg?: string;
}

/**
 * `infercache simulate`: replays traces through each policy at each L1
 * size and prints the hit ratios, so an operator can size L1 and choose
 * INFERCACHE_L1_POLICY for a kind from its own keys.
 */
export function simulateCommand(o: SimulateOptions): void {
  const policies = o.policy.split(',').map((p) => p.trim()) as SimPolicy[];
  const unknown = policies.filter((p) => !SIM_POLICIES.includes(p));
  if (unknown.length > 0) {
    throw new InferCacheError(
      'E_CONFIG',
      `unknown policy ${unknown.join(', ')}; known: ${SIM_POLICIES.join(', ')}`,
    );
  }
  const capacities = o.capacityBytes.split(',').map((c) => positive('--capacity-bytes', c));
  const synthetic = {
    keys: positive('--keys', o.keys),
    accesses: positive('--accesses', o.accesses),
    entryBytes: positive('--entry-bytes', o.entryBytes),
    seed: Number(o.seed),
  };
  const results: SimResult[] = [];
  for (const spec of o.trace.length > 0 ? o.trace : ['zipf:1.0']) {
    let trace: ReturnType<typeof loadTrace>;
    try {
      trace = loadTrace(spec, synthetic);
    } catch (error) {
      throw new InferCacheError('E_CONFIG', `--trace ${spec}: ${(error as Error).message}`);
    }
    for (const capacity of capacities)
      for (const policy of policies) results.push(simulate(trace, policy, capacity));
  }
  if (o.svg !== undefined) writeFileSync(o.svg, resultsSvg(results));
  process.stdout.write(
    `${o.output === 'json' ? JSON.stringify(results) : resultsTable(results, o.output)}\n`,
  );
}

/** One row per trace and size, one column per policy: hit ratio in percent (byte hit ratios are in the JSON). */
export function resultsTable(results: readonly SimResult[], format: 'text' | 'markdown'): string {
  const policies = [...new Set(results.map((r) => r.policy))];
  const rows = new Map<string, SimResult[]>();
  for (const r of results) {
    const id = `${r.trace}\u0000${r.capacityBytes}`;
    rows.set(id, [...(rows.get(id) ?? []), r]);
  }
  const header = ['trace', 'L1 bytes', ...policies.map((p) => `${p} hit %`)];
  if (policies.includes('lru') && policies.includes('tinylfu')) header.push('tinylfu − lru (points)');
  const lines = [...rows.values()].map((rs) => {
    const first = rs[0] as SimResult;
    const by = (p: SimPolicy) => rs.find((r) => r.policy === p);
    const cells = [first.trace, String(first.capacityBytes)];
    for (const p of policies) {
      const r = by(p);
      cells.push(
        r === undefined ? '' : pct(r.hitRatio) + (format === 'text' ? ` (bytes ${pct(r.byteHitRatio)})` : ''),
      );
    }
    const [lru, tiny] = [by('lru'), by('tinylfu')];
    if (header.length > policies.length + 2) {
      cells.push(lru && tiny ? signed(100 * (tiny.hitRatio - lru.hitRatio)) : '');
    }
    return cells;
  });
  if (format === 'markdown') {
    const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
    return [line(header), line(header.map(() => '---')), ...lines.map(line)].join('\n');
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  return [header, ...lines]
    .map((cells) =>
      cells
        .map((c, i) => c.padEnd(widths[i] as number))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function pct(ratio: number): string {
  return (100 * ratio).toFixed(2);
}

function signed(points: number): string {
  return `${points >= 0 ? '+' : ''}${points.toFixed(2)}`;
}

function positive(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new InferCacheError('E_CONFIG', `${flag} ${value}: expected a positive integer`);
  return n;
}
