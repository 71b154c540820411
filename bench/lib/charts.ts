import { readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SimResult } from '../../src/cache/simulator.js';
import { resultsSvg } from '../../src/cli/sim_chart.js';
import { lineChart, n, PALETTE, svgDocument, text, xmlText } from '../../src/cli/svg_chart.js';
import { type BenchReport, type FailedScenario, type ScenarioResult, valueText } from './report.js';

/** One SVG chart of a run, drawn from its result objects. */
export interface Chart {
  /** File name in bench/results/. */
  readonly file: string;
  /** What it shows, for the Markdown that embeds it. */
  readonly title: string;
  /** The scenario it belongs to; none for the chart of every ratio. */
  readonly scenario?: string;
  readonly svg: string;
}

export interface RunCharts {
  readonly charts: Chart[];
  /** Per scenario, why it has no chart of its own (a failed scenario). */
  readonly skipped: Record<string, string>;
}

export const RATIOS_CHART = 'ratios.svg';

const MET = '#2ca02c';
const NOT_MET = '#d62728';
const NO_TARGET = '#7f7f7f';

/**
 * The run's charts: every scenario's ratio lines against their targets in
 * one chart, and a chart per scenario wherever its result has a series:
 * p50 and p99 latency per phase, hit ratio against L1 size (simulator
 * results in its details), hit ratio over a stream (curves in its
 * details). A failed scenario gets none, and says so.
 */
export function runCharts(report: BenchReport): RunCharts {
  const charts: Chart[] = [
    {
      file: RATIOS_CHART,
      title: 'Every ratio of the run against its target',
      svg: ratiosSvg(report.scenarios),
    },
  ];
  const skipped: Record<string, string> = {};
  for (const s of report.scenarios) {
    if ('error' in s) {
      skipped[s.name] = 'no chart: the scenario failed';
      continue;
    }
    charts.push(...scenarioCharts(s));
  }
  return { charts, skipped };
}

/** Writes each chart, then (`prune`: a full run) removes the charts of earlier runs that this one did not draw. */
export function writeCharts(dir: string, charts: readonly Chart[], prune: boolean): void {
  for (const c of charts) {
    writeFileSync(join(dir, `${c.file}.tmp`), c.svg);
    renameSync(join(dir, `${c.file}.tmp`), join(dir, c.file));
  }
  if (!prune) return;
  const drawn = new Set(charts.map((c) => c.file));
  for (const file of readdirSync(dir)) {
    if (file.endsWith('.svg') && !drawn.has(file)) rmSync(join(dir, file));
  }
}

/** The number in a target such as ">= 0.85", if it has one. */
function targetValue(target: string | undefined): number | undefined {
  const m = /-?\d+(?:\.\d+)?(?:e[+-]?\d+)?/i.exec(target ?? '');
  return m === null ? undefined : Number(m[0]);
}

/**
 * One horizontal bar per ratio, grouped by scenario, on one logarithmic
 * axis: a bar runs from 1 (as good as the baseline) to the value, so a
 * ratio above 1 points right and one below points left. Green where the
 * target is met, red where not, grey where there is none; the target is a
 * black tick, and the value and target are written beside each bar. A
 * value the axis cannot place (0 or less, not a number) is drawn at its
 * edge. A failed scenario is a row saying so.
 */
export function ratiosSvg(scenarios: readonly (ScenarioResult | FailedScenario)[]): string {
  const rows: ({ heading: string } | { note: string } | { scenario: string; name: string; ratio: Ratio })[] =
    [];
  for (const s of scenarios) {
    rows.push({ heading: 'error' in s ? s.name : `${s.name}: ${s.title}` });
    if ('error' in s) rows.push({ note: `failed, no bars: ${s.error}` });
    else if (Object.keys(s.ratios).length === 0) rows.push({ note: 'no ratios' });
    else for (const [name, ratio] of Object.entries(s.ratios)) rows.push({ scenario: s.name, name, ratio });
  }
  const placed = rows
    .flatMap((r) => ('ratio' in r ? [r.ratio.value, targetValue(r.ratio.target)] : []))
    .filter((v): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0);
  const [lo, hi] = [
    Math.max(-3, Math.floor(Math.log10(Math.min(0.5, ...placed)))),
    Math.min(4, Math.ceil(Math.log10(Math.max(2, ...placed)))),
  ];
  const ROW = 18;
  const labelChars = Math.max(20, ...rows.map((r) => ('name' in r ? r.name.length : 0)));
  const barLeft = 16 + Math.ceil(labelChars * 6.2);
  const BAR_WIDTH = 320;
  const valueLeft = barLeft + BAR_WIDTH + 8;
  const width = valueLeft + 210;
  const top = 44;
  const bottom = top + rows.length * ROW;
  const height = bottom + 32;
  const x = (v: number | null) => {
    const at = v !== null && v > 0 ? Math.min(hi, Math.max(lo, Math.log10(v))) : lo;
    return barLeft + ((at - lo) / (hi - lo)) * BAR_WIDTH;
  };
  const title = 'Every ratio against its target: bars from 1 (the baseline) to the value, on a log scale';
  const out: string[] = [text(8, 16, title, { 'font-weight': 'bold' })];
  for (let p = lo; p <= hi; p++) {
    const at = n(x(10 ** p));
    out.push(
      `<line class="grid" data-value="${10 ** p}" x1="${at}" x2="${at}" y1="${top - 4}" y2="${bottom}" stroke="${p === 0 ? '#888' : '#ddd'}"/>`,
      text(x(10 ** p), top - 8, String(+(10 ** p).toPrecision(1)), { 'text-anchor': 'middle' }),
    );
  }
  rows.forEach((row, i) => {
    const y = top + i * ROW;
    const mid = y + ROW / 2;
    if ('heading' in row) {
      out.push(text(8, mid, row.heading, { 'font-weight': 'bold', 'dominant-baseline': 'middle' }));
      return;
    }
    if ('note' in row) {
      out.push(text(16, mid, row.note, { class: 'skipped', 'dominant-baseline': 'middle', fill: NOT_MET }));
      return;
    }
    const { value, target, met } = row.ratio;
    const t = targetValue(target);
    const [from, to] = [Math.min(x(1), x(value)), Math.max(x(1), x(value))];
    const colour = met === undefined ? NO_TARGET : met ? MET : NOT_MET;
    const state = met === undefined ? 'none' : met ? 'met' : 'not met';
    const data = `data-scenario="${xmlText(row.scenario)}" data-ratio="${xmlText(row.name)}"`;
    out.push(
      text(barLeft - 6, mid, row.name, { 'text-anchor': 'end', 'dominant-baseline': 'middle' }),
      `<rect class="bar" ${data} data-met="${state}" x="${n(from)}" y="${n(y + 3)}" width="${n(Math.max(1, to - from))}" height="${ROW - 6}" fill="${colour}"/>`,
    );
    if (t !== undefined) {
      out.push(
        `<line class="target" ${data} x1="${n(x(t))}" x2="${n(x(t))}" y1="${n(y + 1)}" y2="${n(y + ROW - 1)}" stroke="black" stroke-width="2"/>`,
      );
    }
    const label = `${valueText(value)}${target === undefined ? '' : ` (target ${target}: ${met ? 'met' : 'NOT met'})`}`;
    out.push(
      `<text class="value" ${data} x="${valueLeft}" y="${n(mid)}" dominant-baseline="middle" fill="${colour === NO_TARGET ? 'black' : colour}">${xmlText(label)}</text>`,
    );
  });
  const legend = bottom + 18;
  out.push(
    `<rect x="8" y="${legend - 6}" width="12" height="12" fill="${MET}"/>`,
    text(24, legend, 'target met', { 'dominant-baseline': 'middle' }),
    `<rect x="96" y="${legend - 6}" width="12" height="12" fill="${NOT_MET}"/>`,
    text(112, legend, 'target not met', { 'dominant-baseline': 'middle' }),
    `<rect x="206" y="${legend - 6}" width="12" height="12" fill="${NO_TARGET}"/>`,
    text(222, legend, 'no target (for information)', { 'dominant-baseline': 'middle' }),
  );
  return svgDocument(width, height, out, title);
}

type Ratio = ScenarioResult['ratios'][string];

/** The charts of one scenario's series, as far as its result has any. */
function scenarioCharts(s: ScenarioResult): Chart[] {
  const charts: Chart[] = [];
  const latency = latencySvg(s);
  if (latency !== undefined) {
    charts.push({
      file: `${s.name}_latency.svg`,
      title: `${s.name}: p50 and p99 latency per phase`,
      scenario: s.name,
      svg: latency,
    });
  }
  const details = (s.details ?? {}) as Record<string, unknown>;
  const sim = details.simResults;
  if (isRecordOf(sim, isSimResults)) {
    for (const [kind, results] of Object.entries(sim)) {
      const title = `${s.name}, ${kind}: hit ratio against L1 size`;
      charts.push({
        file: `${s.name}_${kind}.svg`,
        title,
        scenario: s.name,
        svg: resultsSvg(results, title),
      });
    }
  }
  const curves = details.curves;
  // Windows of windowMs of wall time, sliding by stepMs (warm_start).
  const { windowMs, stepMs } = s.settings;
  if (isRecordOf(curves, isNumbers) && typeof windowMs === 'number' && typeof stepMs === 'number') {
    const title = `${s.name}: L1 hit ratio per ${windowMs / 1000} s window`;
    // A point at the end of its window.
    const at = (w: number) => (windowMs + w * stepMs) / 1000;
    const series = Object.entries(curves).map(([name, ratios], i) => ({
      name,
      colour: PALETTE[i % PALETTE.length] as string,
      points: ratios.map((r, w) => [at(w), r] as const),
      data: { curve: name },
    }));
    const longest = Math.max(0, ...Object.values(curves).map((c) => c.length));
    // A tick a second.
    const ticks = Array.from({ length: Math.floor(at(longest - 1)) + 1 }, (_, sec) => sec).filter(
      (x) => x >= at(0),
    );
    charts.push({
      file: `${s.name}_curves.svg`,
      title,
      scenario: s.name,
      svg: lineChart({
        series,
        xScale: 'linear',
        xTicks: ticks,
        xLabel: (x) => `${x} s`,
        xTitle: 'seconds since start (window end)',
        yTitle: 'L1 hit ratio',
        title,
      }),
    });
  }
  return charts;
}

/** The latency columns of a phase: p50Ms and p99Ms, or the like with a prefix (e2eP50Ms, e2eP99Ms). */
function latencyColumns(s: ScenarioResult): [string, string] | undefined {
  for (const phase of Object.values(s.phases)) {
    for (const column of Object.keys(phase)) {
      const m = /^(.*?)([pP])50Ms$/.exec(column);
      const p99 = m === null ? undefined : `${m[1]}${m[2]}99Ms`;
      if (m !== null && p99 !== undefined && typeof phase[p99] === 'number') return [column, p99];
    }
  }
  return undefined;
}

/** p50 and p99 of every phase that has both, as paired horizontal bars on one axis in ms. */
function latencySvg(s: ScenarioResult): string | undefined {
  const columns = latencyColumns(s);
  if (columns === undefined) return undefined;
  const [c50, c99] = columns;
  const phases = Object.entries(s.phases).flatMap(([name, p]) => {
    const [a, b] = [p[c50], p[c99]];
    return typeof a === 'number' && typeof b === 'number' && Number.isFinite(a) && Number.isFinite(b)
      ? [{ name, p50: a, p99: b }]
      : [];
  });
  if (phases.length < 2) return undefined;
  const ROW = 30;
  const labelLeft = 16 + Math.ceil(Math.max(...phases.map((p) => p.name.length)) * 6.2);
  const BAR_WIDTH = 360;
  const top = 46;
  const width = labelLeft + BAR_WIDTH + 90;
  const height = top + phases.length * ROW + 40;
  const max = niceCeiling(Math.max(...phases.map((p) => Math.max(p.p50, p.p99))));
  const x = (ms: number) => labelLeft + (ms / max) * BAR_WIDTH;
  const title = `${s.name}: ${c50} and ${c99} per phase`;
  const out: string[] = [
    text(8, 16, title, { 'font-weight': 'bold' }),
    `<rect x="8" y="26" width="12" height="10" fill="${PALETTE[0]}"/>`,
    text(24, 31, c50, { 'dominant-baseline': 'middle' }),
    `<rect x="118" y="26" width="12" height="10" fill="${PALETTE[3]}"/>`,
    text(134, 31, c99, { 'dominant-baseline': 'middle' }),
  ];
  for (let i = 0; i <= 4; i++) {
    const ms = (max * i) / 4;
    out.push(
      `<line class="grid" x1="${n(x(ms))}" x2="${n(x(ms))}" y1="${top}" y2="${top + phases.length * ROW}" stroke="#ddd"/>`,
      text(x(ms), top + phases.length * ROW + 14, `${+ms.toPrecision(3)} ms`, { 'text-anchor': 'middle' }),
    );
  }
  phases.forEach((p, i) => {
    const y = top + i * ROW;
    const data = `data-phase="${xmlText(p.name)}"`;
    out.push(
      text(labelLeft - 6, y + ROW / 2, p.name, { 'text-anchor': 'end', 'dominant-baseline': 'middle' }),
      `<rect class="bar" ${data} data-column="${c50}" x="${labelLeft}" y="${n(y + 3)}" width="${n(x(p.p50) - labelLeft)}" height="11" fill="${PALETTE[0]}"/>`,
      text(x(p.p50) + 4, y + 8.5, p.p50.toPrecision(3), { 'dominant-baseline': 'middle' }),
      `<rect class="bar" ${data} data-column="${c99}" x="${labelLeft}" y="${n(y + 15)}" width="${n(x(p.p99) - labelLeft)}" height="11" fill="${PALETTE[3]}"/>`,
      text(x(p.p99) + 4, y + 20.5, p.p99.toPrecision(3), { 'dominant-baseline': 'middle' }),
    );
  });
  out.push(text(labelLeft + BAR_WIDTH / 2, height - 8, 'milliseconds', { 'text-anchor': 'middle' }));
  return svgDocument(width, height, out, title);
}

/** The smallest round number (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten) at or above `v`: an axis's end. */
function niceCeiling(v: number): number {
  if (!(v > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(v));
  for (const step of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8]) if (step * power >= v) return step * power;
  return 10 * power;
}

function isRecordOf<T>(v: unknown, each: (x: unknown) => x is T): v is Record<string, T> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every(each);
}

function isNumbers(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'number');
}

function isSimResults(v: unknown): v is SimResult[] {
  return (
    Array.isArray(v) &&
    v.every(
      (r) =>
        typeof r === 'object' &&
        r !== null &&
        typeof (r as SimResult).capacityBytes === 'number' &&
        typeof (r as SimResult).hitRatio === 'number' &&
        typeof (r as SimResult).policy === 'string' &&
        typeof (r as SimResult).trace === 'string',
    )
  );
}
