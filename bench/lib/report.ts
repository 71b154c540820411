import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Chart, RunCharts } from './charts.js';

export type Value = number | string | boolean;

interface Ratio {
  /** NaN when its divisor was 0; read back from JSON, that is null. */
  value: number | null;
  /** e.g. ">= 0.85"; absent for ratios reported for information. */
  target?: string;
  met?: boolean;
}

export interface ScenarioResult {
  name: string;
  title: string;
  settings: Record<string, Value>;
  ratios: Record<string, Ratio>;
  /** One row per phase; columns are the union of the keys. */
  phases: Record<string, Record<string, Value>>;
  notes?: string[];
  /** JSON only: per-round numbers and the like. */
  details?: unknown;
}

export interface FailedScenario {
  name: string;
  error: string;
}

export interface BenchReport {
  date: string;
  node: string;
  platform: string;
  cpus: number;
  cpuModel: string;
  /** Git commit of the measured code (dist/ is built from src/). */
  commit: string;
  loadAvgStart: number[];
  loadAvgEnd: number[];
  wallSeconds: number;
  scenarios: (ScenarioResult | FailedScenario)[];
}

function fmt(v: Value): string {
  if (typeof v !== 'number') return String(v);
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) || Math.abs(v) >= 100) return String(Math.round(v));
  return Math.abs(v) >= 10 ? v.toFixed(1) : v.toPrecision(3);
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The run's charts as the Markdown embeds them: `path` is their folder relative to the Markdown file. */
export interface ChartLinks {
  readonly run: RunCharts;
  readonly path: string;
}

function embed(c: Chart, links: ChartLinks): string {
  return `![${c.title}](${links.path}${c.file})`;
}

/** A ratio's value as the chart and the Markdown table print it (JSON turns NaN into null). */
export function valueText(value: number | null): string {
  return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(3) : String(value);
}

function scenarioMarkdown(s: ScenarioResult | FailedScenario, links?: ChartLinks): string {
  if ('error' in s) {
    const skipped = links?.run.skipped[s.name];
    return `### ${s.name}\n\nFAILED: ${s.error}\n${skipped === undefined ? '' : `\n(${skipped}.)\n`}`;
  }
  const ratios = table(
    ['ratio', 'value', 'target', 'met'],
    Object.entries(s.ratios).map(([k, r]) => [
      k,
      valueText(r.value),
      r.target ?? '',
      r.met === undefined ? '' : r.met ? 'yes' : 'NO',
    ]),
  );
  const columns = [...new Set(Object.values(s.phases).flatMap((p) => Object.keys(p)))];
  const phases = table(
    ['phase', ...columns],
    Object.entries(s.phases).map(([k, p]) => [
      k,
      ...columns.map((c) => (p[c] === undefined ? '' : fmt(p[c] as Value))),
    ]),
  );
  const settings = Object.entries(s.settings)
    .map(([k, v]) => `${k}=${fmt(v)}`)
    .join(', ');
  const notes = (s.notes ?? []).map((n) => `- ${n}`).join('\n');
  const charts = (links?.run.charts ?? [])
    .filter((c) => c.scenario === s.name)
    .map((c) => embed(c, links as ChartLinks))
    .join('\n\n');
  return `### ${s.name}: ${s.title}\n\n${settings}\n\n${ratios}\n\n${phases}\n${charts ? `\n${charts}\n` : ''}${notes ? `\n${notes}\n` : ''}`;
}

/**
 * The Markdown body (no top-level heading, so it can sit inside the README),
 * with `links`, the run's charts embedded: the chart of every ratio under
 * the heading line, each scenario's own after its tables.
 */
export function toMarkdown(r: BenchReport, links?: ChartLinks): string {
  const head =
    `Run ${r.date} on ${r.commit}: node ${r.node}, ${r.platform}, ${r.cpus} CPUs (${r.cpuModel}), ` +
    `load average ${r.loadAvgStart.map((l) => l.toFixed(2)).join('/')} at start, ` +
    `${r.wallSeconds.toFixed(0)} s wall time. Regenerate with \`npm run bench\`.`;
  const overview = (links?.run.charts ?? [])
    .filter((c) => c.scenario === undefined)
    .map((c) => embed(c, links as ChartLinks));
  return [head, ...overview, ...r.scenarios.map((s) => scenarioMarkdown(s, links))].join('\n\n');
}

// Write then rename, so a reader never sees half a file.
function writeAtomically(path: string, text: string, tmp = `${path}.tmp`): void {
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export function writeResults(dir: string, report: BenchReport, markdown: string): void {
  writeAtomically(`${dir}/latest.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeAtomically(`${dir}/latest.md`, `# infercache benchmark results\n\n${markdown}`);
}

/**
 * Replaces what is between the markers (`<!-- bench:start -->` and
 * `<!-- bench:end -->` by default) in `readme`, if the file and both
 * markers exist; the rest of the file is someone else's and stays as is.
 */
export function updateReadme(readme: string, markdown: string, tmp: string, marker = 'bench'): boolean {
  const START = `<!-- ${marker}:start -->`;
  const END = `<!-- ${marker}:end -->`;
  if (!existsSync(readme)) return false;
  const text = readFileSync(readme, 'utf8');
  const start = text.indexOf(START);
  const end = start === -1 ? -1 : text.indexOf(END, start + START.length);
  if (end === -1) return false;
  writeAtomically(readme, `${text.slice(0, start + START.length)}\n${markdown}\n${text.slice(end)}`, tmp);
  return true;
}
