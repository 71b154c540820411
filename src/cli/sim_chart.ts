import type { SimResult } from '../cache/simulator.js';

const WIDTH = 640;
const HEIGHT = 400;
const PLOT = { left: 56, right: 470, top: 24, bottom: 340 };
const COLOURS: Record<string, string> = { lru: '#d62728', tinylfu: '#1f77b4', opt: '#2ca02c' };
// One dash pattern per trace, so several traces stay apart in one chart.
const DASHES = ['', '6 4', '2 3', '10 3 2 3'];

/**
 * The simulation as an SVG chart: hit ratio (0–100 %) against L1 bytes on a
 * log scale (sizes are tried in steps of a factor, and the curve is read in
 * those), one line per policy and trace, a point per size. Hand-written so
 * the CLI needs no plotting library.
 */
export function resultsSvg(results: readonly SimResult[]): string {
  const sizes = [...new Set(results.map((r) => r.capacityBytes))].sort((a, b) => a - b);
  const traces = [...new Set(results.map((r) => r.trace))];
  const [lo, hi] = [Math.log(sizes[0] ?? 1), Math.log(sizes[sizes.length - 1] ?? 1)];
  const x = (bytes: number) =>
    hi === lo
      ? (PLOT.left + PLOT.right) / 2
      : PLOT.left + ((Math.log(bytes) - lo) / (hi - lo)) * (PLOT.right - PLOT.left);
  const y = (ratio: number) => PLOT.bottom - ratio * (PLOT.bottom - PLOT.top);
  const n = (v: number) => v.toFixed(1);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="11">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
  ];
  for (let pct = 0; pct <= 100; pct += 25) {
    const at = n(y(pct / 100));
    out.push(
      `<line class="grid" data-pct="${pct}" x1="${PLOT.left}" x2="${PLOT.right}" y1="${at}" y2="${at}" stroke="#ddd"/>`,
      `<text x="${PLOT.left - 6}" y="${at}" text-anchor="end" dominant-baseline="middle">${pct}%</text>`,
    );
  }
  for (const size of sizes) {
    out.push(
      `<text x="${n(x(size))}" y="${PLOT.bottom + 16}" text-anchor="middle">${bytesLabel(size)}</text>`,
    );
  }
  out.push(
    `<text x="${(PLOT.left + PLOT.right) / 2}" y="${HEIGHT - 12}" text-anchor="middle">L1 bytes</text>`,
    `<text x="14" y="${(PLOT.top + PLOT.bottom) / 2}" transform="rotate(-90 14 ${(PLOT.top + PLOT.bottom) / 2})" text-anchor="middle">hit ratio</text>`,
  );
  let legend = PLOT.top;
  traces.forEach((trace, t) => {
    for (const policy of [...new Set(results.map((r) => r.policy))]) {
      const line = results
        .filter((r) => r.trace === trace && r.policy === policy)
        .sort((a, b) => a.capacityBytes - b.capacityBytes);
      if (line.length === 0) continue;
      const colour = COLOURS[policy] ?? '#000';
      const dash = DASHES[t % DASHES.length] as string;
      const points = line.map((r) => `${n(x(r.capacityBytes))},${n(y(r.hitRatio))}`).join(' ');
      const name = traces.length > 1 ? `${policy} · ${trace}` : policy;
      out.push(
        `<polyline data-policy="${xmlText(policy)}" data-trace="${xmlText(trace)}" points="${points}" fill="none" stroke="${colour}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
        ...line.map(
          (r) => `<circle cx="${n(x(r.capacityBytes))}" cy="${n(y(r.hitRatio))}" r="3" fill="${colour}"/>`,
        ),
        `<line x1="${PLOT.right + 12}" x2="${PLOT.right + 32}" y1="${legend}" y2="${legend}" stroke="${colour}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
        `<text x="${PLOT.right + 36}" y="${legend}" dominant-baseline="middle">${xmlText(name)}</text>`,
      );
      legend += 16;
    }
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function bytesLabel(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10],
  ] as const) {
    if (bytes >= size) return `${+(bytes / size).toFixed(1)} ${unit}`;
  }
  return `${bytes} B`;
}

function xmlText(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
