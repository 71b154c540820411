import { describe, expect, it } from 'vitest';
import { resultsSvg } from '../../src/cli/sim_chart.js';
import { simResult } from '../helpers/sim_results.js';

/** The y of the chart's gridline at `pct` percent. */
function gridY(svg: string, pct: number): number {
  const m = new RegExp(`<line class="grid" data-pct="${pct}"[^>]* y1="([\\d.]+)"`).exec(svg);
  if (m === null) throw new Error(`no gridline at ${pct}%`);
  return Number(m[1]);
}

function lines(svg: string): Map<string, [number, number][]> {
  const out = new Map<string, [number, number][]>();
  for (const m of svg.matchAll(/<polyline data-policy="(\w+)"[^>]* points="([^"]+)"/g)) {
    const points = (m[2] as string).split(' ').map((p) => p.split(',').map(Number) as [number, number]);
    out.set(m[1] as string, points);
  }
  return out;
}

describe('the simulation chart (SVG)', () => {
  // Given out of order on purpose: the chart sorts by size.
  const results = [
    simResult('lru', 4096, 0.3),
    simResult('tinylfu', 4096, 0.45),
    simResult('lru', 1024, 0.1),
    simResult('tinylfu', 1024, 0.2),
    simResult('lru', 16384, 0.6),
    simResult('tinylfu', 16384, 0.7),
  ];
  const svg = resultsSvg(results);

  it('draws one line per policy with a point per size, left to right by size', () => {
    const drawn = lines(svg);
    expect([...drawn.keys()]).toEqual(['lru', 'tinylfu']);
    for (const points of drawn.values()) {
      expect(points).toHaveLength(3);
      const xs = points.map(([x]) => x);
      expect(xs).toEqual([...xs].sort((a, b) => a - b));
      expect(new Set(xs).size).toBe(3);
    }
  });

  it('places each point at its hit ratio between the 0% and 100% gridlines', () => {
    const [zero, full] = [gridY(svg, 0), gridY(svg, 100)];
    // SVG's y grows downwards: a better ratio is drawn higher.
    expect(full).toBeLessThan(zero);
    const ratios = { lru: [0.1, 0.3, 0.6], tinylfu: [0.2, 0.45, 0.7] };
    for (const [policy, points] of lines(svg)) {
      const expected = ratios[policy as keyof typeof ratios].map((r) => zero + (full - zero) * r);
      points.forEach(([, y], i) => {
        expect(y).toBeCloseTo(expected[i] as number, 0);
      });
    }
  });

  it('spaces sizes by their logarithm: sizes a factor of 4 apart are equally far apart', () => {
    const [a, b, c] = (lines(svg).get('lru') as [number, number][]).map(([x]) => x);
    expect((b as number) - (a as number)).toBeCloseTo((c as number) - (b as number), 0);
  });

  it('escapes a trace name that is a path with markup in it', () => {
    const named = resultsSvg([{ ...simResult('lru', 1024, 0.5), trace: 'a<b>&"c".csv' }]);
    expect(named).not.toContain('a<b>');
    expect(named).toContain('a&#60;b&#62;&#38;&#34;c&#34;.csv');
  });
});
