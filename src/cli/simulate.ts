import { writeFileSync } from 'node:fs';
import { SIM_POLICIES, type SimPolicy, type SimResult, simulate } from '../cache/simulator.js';
import { loadTrace, type Trace } from '../cache/trace.js';
import type { FrameKind } from '../cache/value_frame.js';
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
  kind?: FrameKind;
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
    ...(o.kind === undefined ? {} : { kind: o.kind }),
  };
  const results: SimResult[] = [];
  const notes: string[] = [];
  for (const spec of o.trace.length > 0 ? o.trace : ['zipf:1.0']) {
    let trace: Trace;
    try {
      trace = loadTrace(spec, synthetic);
    } catch (error) {
      throw new InferCacheError('E_CONFIG', `--trace ${spec}: ${(error as Error).message}`);
    }
    const note = recordedNote(trace);
    if (note !== undefined) notes.push(note);
    for (const capacity of capacities)
      for (const policy of policies) results.push(simulate(trace, policy, capacity));
  }
  if (o.svg !== undefined) writeFileSync(o.svg, resultsSvg(results));
  if (o.output === 'json') {
    process.stdout.write(`${JSON.stringify(results)}\n`);
    return;
  }
  process.stdout.write(`${[resultsTable(results, o.output), ...notes.map((n) => `\n${n}`)].join('\n')}\n`);
}

/** What a reader of the table must know about a trace the sidecar recorded; undefined for others. */
function recordedNote(trace: Trace): string | undefined {
  if (trace.recorded === undefined) return undefined;
  const rate = trace.sampleRate ?? 1;
  const all = trace.fullAccesses === undefined ? '' : `, of ${trace.fullAccesses} in all`;
  const parts = [
    rate < 1
      ? `${trace.name}: keys sampled at ${rate} (SHARDS): each L1 size is of the full traffic, replayed as ${rate} of it.`
      : `${trace.name}: every key recorded.`,
    `${trace.keys.length} lookups of ${trace.sizes.length} keys recorded${all}; the recording sidecar's L1 answered ${pct(trace.recorded.l1Hits / trace.keys.length)}% of them.`,
  ];
  if (rate < 1 && trace.fullAccesses === undefined)
    parts.push(
      'The recording did not end cleanly (no count of all lookups): hit ratios are not corrected for the hot keys the sample took or left out.',
    );
  if (trace.recorded.unsized > 0)
    parts.push(`${trace.recorded.unsized} keys never given a size took the median size of their kind.`);
  return parts.join(' ');
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
