/**
 * What the hand-written SVG charts are drawn with (the simulator's, and the
 * benchmarks' in bench/lib/charts.ts): a document, escaped text, and a line
 * chart of fractions (0–100 %) against a linear or logarithmic x axis. No
 * plotting library.
 */

/** Colours for series that have no colour of their own meaning. */
export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2'];
// One dash pattern per trace, so several traces stay apart in one chart.
const DASHES = ['', '6 4', '2 3', '10 3 2 3', '12 4', '4 2 1 2'];

/** The dash pattern of the `i`th of several series drawn in one colour. */
export function dash(i: number): string {
  return DASHES[i % DASHES.length] as string;
}

/** A coordinate as written into the SVG. */
export function n(v: number): string {
  return v.toFixed(1);
}

export function xmlText(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A whole SVG document: a white page of `width` × `height` with `body` on it, and `title` its alternative text. */
export function svgDocument(width: number, height: number, body: readonly string[], title?: string): string {
  return `${[
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    ...(title === undefined ? [] : [`<title>${xmlText(title)}</title>`]),
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...body,
    '</svg>',
  ].join('\n')}\n`;
}

/** A text element; `attrs` are written as they are (values escaped). */
export function text(x: number, y: number, content: string, attrs: Record<string, string> = {}): string {
  const rest = Object.entries(attrs)
    .map(([k, v]) => ` ${k}="${xmlText(v)}"`)
    .join('');
  return `<text x="${n(x)}" y="${n(y)}"${rest}>${xmlText(content)}</text>`;
}

export function bytesLabel(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10],
  ] as const) {
    if (bytes >= size) return `${+(bytes / size).toFixed(1)} ${unit}`;
  }
  return `${bytes} B`;
}

export interface LineSeries {
  /** The legend's words for it. */
  readonly name: string;
  readonly colour: string;
  readonly dash?: string;
  /** [x, y] with y a fraction, 0 to 1. */
  readonly points: readonly (readonly [number, number])[];
  /** Written on its polyline as data-* attributes, so a reader can tell the lines apart. */
  readonly data?: Readonly<Record<string, string>>;
}

export interface LineChartSpec {
  readonly series: readonly LineSeries[];
  /** 'log' spaces x by its logarithm (sizes tried in steps of a factor); x must then be positive. */
  readonly xScale: 'linear' | 'log';
  /** Where x is labelled, and how. */
  readonly xTicks: readonly number[];
  readonly xLabel: (x: number) => string;
  readonly xTitle: string;
  readonly yTitle: string;
  /** A heading above the plot, and the chart's alternative text. */
  readonly title?: string;
}

const WIDTH = 640;
const HEIGHT = 400;
const PLOT = { left: 56, right: 470, top: 24, bottom: 340 };

/** Lines of fractions (0–100 %) against x, a point per value, with a legend at the right. */
export function lineChart(spec: LineChartSpec): string {
  const xs = spec.series.flatMap((s) => s.points.map(([x]) => x)).concat(spec.xTicks);
  const t = spec.xScale === 'log' ? Math.log : (v: number) => v;
  const [lo, hi] = [t(Math.min(...xs, Infinity)), t(Math.max(...xs, -Infinity))];
  const x = (v: number) =>
    hi === lo || !Number.isFinite(hi - lo)
      ? (PLOT.left + PLOT.right) / 2
      : PLOT.left + ((t(v) - lo) / (hi - lo)) * (PLOT.right - PLOT.left);
  const y = (fraction: number) => PLOT.bottom - fraction * (PLOT.bottom - PLOT.top);
  const out: string[] = [];
  if (spec.title !== undefined) out.push(text(PLOT.left, 14, spec.title, { 'font-weight': 'bold' }));
  for (let pct = 0; pct <= 100; pct += 25) {
    const at = n(y(pct / 100));
    out.push(
      `<line class="grid" data-pct="${pct}" x1="${PLOT.left}" x2="${PLOT.right}" y1="${at}" y2="${at}" stroke="#ddd"/>`,
      `<text x="${PLOT.left - 6}" y="${at}" text-anchor="end" dominant-baseline="middle">${pct}%</text>`,
    );
  }
  for (const tick of spec.xTicks) {
    out.push(
      `<text x="${n(x(tick))}" y="${PLOT.bottom + 16}" text-anchor="middle">${xmlText(spec.xLabel(tick))}</text>`,
    );
  }
  out.push(
    `<text x="${(PLOT.left + PLOT.right) / 2}" y="${HEIGHT - 12}" text-anchor="middle">${xmlText(spec.xTitle)}</text>`,
    `<text x="14" y="${(PLOT.top + PLOT.bottom) / 2}" transform="rotate(-90 14 ${(PLOT.top + PLOT.bottom) / 2})" text-anchor="middle">${xmlText(spec.yTitle)}</text>`,
  );
  let legend = PLOT.top;
  for (const s of spec.series) {
    if (s.points.length === 0) continue;
    const stroke = `stroke="${s.colour}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}`;
    const data = Object.entries(s.data ?? {})
      .map(([k, v]) => `data-${k}="${xmlText(v)}" `)
      .join('');
    const points = s.points.map(([px, py]) => `${n(x(px))},${n(y(py))}`).join(' ');
    out.push(
      `<polyline ${data}points="${points}" fill="none" ${stroke}/>`,
      ...s.points.map(([px, py]) => `<circle cx="${n(x(px))}" cy="${n(y(py))}" r="3" fill="${s.colour}"/>`),
      `<line x1="${PLOT.right + 12}" x2="${PLOT.right + 32}" y1="${legend}" y2="${legend}" ${stroke}/>`,
      `<text x="${PLOT.right + 36}" y="${legend}" dominant-baseline="middle">${xmlText(s.name)}</text>`,
    );
    legend += 16;
  }
  return svgDocument(WIDTH, HEIGHT, out, spec.title);
}
