import type { SimResult } from '../cache/simulator.js';
import { bytesLabel, dash, type LineSeries, lineChart } from './svg_chart.js';

const COLOURS: Record<string, string> = { lru: '#d62728', tinylfu: '#1f77b4', opt: '#2ca02c' };

/**
 * The simulation as an SVG chart: hit ratio (0–100 %) against L1 bytes on a
 * log scale (sizes are tried in steps of a factor, and the curve is read in
 * those), one line per policy and trace, a point per size. Hand-written so
 * the CLI needs no plotting library.
 */
export function resultsSvg(results: readonly SimResult[], title?: string): string {
  const sizes = [...new Set(results.map((r) => r.capacityBytes))].sort((a, b) => a - b);
  const traces = [...new Set(results.map((r) => r.trace))];
  const series: LineSeries[] = [];
  traces.forEach((trace, t) => {
    for (const policy of [...new Set(results.map((r) => r.policy))]) {
      const line = results
        .filter((r) => r.trace === trace && r.policy === policy)
        .sort((a, b) => a.capacityBytes - b.capacityBytes);
      if (line.length === 0) continue;
      series.push({
        name: traces.length > 1 ? `${policy} · ${trace}` : policy,
        colour: COLOURS[policy] ?? '#000',
        dash: dash(t),
        points: line.map((r) => [r.capacityBytes, r.hitRatio] as const),
        data: { policy, trace },
      });
    }
  });
  return lineChart({
    series,
    xScale: 'log',
    xTicks: sizes,
    xLabel: bytesLabel,
    xTitle: 'L1 bytes',
    yTitle: 'hit ratio',
    ...(title === undefined ? {} : { title }),
  });
}
