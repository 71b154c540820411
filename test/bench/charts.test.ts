import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RATIOS_CHART, ratiosSvg, runCharts, writeCharts } from '../../bench/lib/charts.js';
import { type BenchReport, type ScenarioResult, toMarkdown } from '../../bench/lib/report.js';
import { simResult } from '../helpers/sim_results.js';
import { makeTempDir } from '../helpers/temp_dirs.js';
import { allElements, parseXml, type XmlElement } from '../helpers/xml.js';

const speed: ScenarioResult = {
  name: 'speed',
  title: 'a sidecar vs a bare server',
  settings: { rounds: 3 },
  ratios: {
    'throughput sidecar/bare': { value: 0.93, target: '>= 0.9', met: true },
    'p99 sidecar/bare': { value: 2.5, target: '<= 1.5', met: false },
    'p50 sidecar/bare': { value: 1.1 },
    'cost <per call> & "more"': { value: 0.25, target: '<= 1', met: true },
  },
  phases: {
    sidecar: { p50Ms: 1.5, p99Ms: 9, rps: 1000 },
    bare: { p50Ms: 1.2, p99Ms: 4, rps: 1100 },
    'no latency here': { rps: 5 },
  },
};

const policies: ScenarioResult = {
  name: 'policies',
  title: 'hit ratios',
  settings: { windowMs: 1000, stepMs: 500 },
  ratios: { 'tinylfu − lru (points)': { value: 7.5, target: '>= 5', met: true } },
  phases: {},
  details: {
    simResults: {
      p: [simResult('lru', 1024, 0.2), simResult('tinylfu', 1024, 0.3), simResult('lru', 4096, 0.5)],
    },
    curves: { cold: [0.1, 0.4, 0.6], warmed: [0.5, 0.6, 0.6] },
  },
};

const report: BenchReport = {
  date: '2026-01-01T00:00:00.000Z',
  node: 'v20',
  platform: 'linux-x64',
  cpus: 2,
  cpuModel: 'test',
  commit: 'abc1234',
  loadAvgStart: [1, 1, 1],
  loadAvgEnd: [1, 1, 1],
  wallSeconds: 1,
  scenarios: [speed, { name: 'broken', error: 'sidecar exited' }, policies],
};

const byClass = (root: XmlElement, cls: string) => allElements(root).filter((e) => e.attrs.class === cls);

describe('the charts of a bench run', () => {
  const run = runCharts(report);
  const files = run.charts.map((c) => c.file);

  it('writes well-formed SVG documents only', () => {
    expect(files.length).toBeGreaterThan(1);
    for (const c of run.charts) {
      const root = parseXml(c.svg);
      expect(root.name).toBe('svg');
      expect(root.attrs.xmlns).toBe('http://www.w3.org/2000/svg');
    }
  });

  it('draws one bar per ratio, in order, each with its value written beside it', () => {
    const root = parseXml(run.charts.find((c) => c.file === RATIOS_CHART)?.svg ?? '');
    const bars = byClass(root, 'bar');
    const expected = [speed, policies].flatMap((s) =>
      Object.entries(s.ratios).map(([name, r]) => ({ scenario: s.name, name, r })),
    );
    expect(bars.map((b) => [b.attrs['data-scenario'], b.attrs['data-ratio']])).toEqual(
      expected.map((e) => [e.scenario, e.name]),
    );
    const values = byClass(root, 'value');
    expect(values).toHaveLength(expected.length);
    expected.forEach(({ name, r }, i) => {
      expect(values[i]?.attrs['data-ratio']).toBe(name);
      expect(values[i]?.text.startsWith((r.value as number).toFixed(3))).toBe(true);
      if (r.target !== undefined) expect(values[i]?.text).toContain(r.target);
      expect(bars[i]?.attrs['data-met']).toBe(r.met === undefined ? 'none' : r.met ? 'met' : 'not met');
    });
    // Met and not met are told apart by colour too, and a ratio with a target has its tick.
    const fill = (met: string) =>
      new Set(bars.filter((b) => b.attrs['data-met'] === met).map((b) => b.attrs.fill));
    expect(fill('met').size).toBe(1);
    expect([...fill('met')]).not.toEqual([...fill('not met')]);
    expect(byClass(root, 'target').map((t) => t.attrs['data-ratio'])).toEqual(
      expected.filter((e) => e.r.target !== undefined).map((e) => e.name),
    );
  });

  it('runs each bar from the baseline 1 to its value: right of it above 1, left of it below', () => {
    const root = parseXml(ratiosSvg([speed]));
    const one = Number(byClass(root, 'grid').find((g) => g.attrs['data-value'] === '1')?.attrs.x1);
    for (const bar of byClass(root, 'bar')) {
      const value = speed.ratios[bar.attrs['data-ratio'] as string]?.value as number;
      const [x, width] = [Number(bar.attrs.x), Number(bar.attrs.width)];
      if (value > 1) expect(x).toBeCloseTo(one, 0);
      else expect(x + width).toBeCloseTo(one, 0);
    }
  });

  it('skips the charts of a failed scenario and says so', () => {
    expect(files.some((f) => f.startsWith('broken'))).toBe(false);
    expect(run.skipped).toEqual({ broken: 'no chart: the scenario failed' });
    const root = parseXml(run.charts.find((c) => c.file === RATIOS_CHART)?.svg ?? '');
    expect(byClass(root, 'bar').some((b) => b.attrs['data-scenario'] === 'broken')).toBe(false);
    expect(byClass(root, 'skipped').map((e) => e.text)).toEqual(['failed, no bars: sidecar exited']);
    expect(toMarkdown(report, { run, path: '' })).toContain(
      'FAILED: sidecar exited\n\n(no chart: the scenario failed.)',
    );
  });

  it("draws a scenario's series from its own result: latency per phase, hit ratio per size, curves", () => {
    expect(files).toEqual([RATIOS_CHART, 'speed_latency.svg', 'policies_p.svg', 'policies_curves.svg']);
    const latency = parseXml(run.charts[1]?.svg ?? '');
    const bars = byClass(latency, 'bar').map((b) => [b.attrs['data-phase'], b.attrs['data-column']]);
    expect(bars).toEqual([
      ['sidecar', 'p50Ms'],
      ['sidecar', 'p99Ms'],
      ['bare', 'p50Ms'],
      ['bare', 'p99Ms'],
    ]);
    const width = (phase: string, column: string) =>
      Number(
        byClass(latency, 'bar').find(
          (b) => b.attrs['data-phase'] === phase && b.attrs['data-column'] === column,
        )?.attrs.width,
      );
    expect(width('sidecar', 'p99Ms') / width('bare', 'p99Ms')).toBeCloseTo(9 / 4, 2);
    const lines = (svg: string) => allElements(parseXml(svg)).filter((e) => e.name === 'polyline');
    expect(lines(run.charts[2]?.svg ?? '').map((l) => l.attrs['data-policy'])).toEqual(['lru', 'tinylfu']);
    const curves = lines(run.charts[3]?.svg ?? '');
    expect(curves.map((l) => [l.attrs['data-curve'], l.attrs.points?.split(' ').length])).toEqual([
      ['cold', 3],
      ['warmed', 3],
    ]);
  });

  it('draws curves of windows sliding in wall time against seconds (warm_start)', () => {
    const timed: ScenarioResult = {
      name: 'timed',
      title: 'hit ratio over time',
      settings: { windowMs: 1000, stepMs: 100 },
      ratios: {},
      phases: {},
      details: { curves: { cold: [0.1, 0.4, 0.6, 0.7], warmed: [0.5, 0.6, 0.6, 0.7] } },
    };
    const charts = runCharts({ ...report, scenarios: [timed] }).charts;
    const chart = charts.find((c) => c.file === 'timed_curves.svg');
    expect(chart?.title).toBe('timed: L1 hit ratio per 1 s window');
    const root = parseXml(chart?.svg ?? '');
    const curves = allElements(root).filter((e) => e.name === 'polyline');
    expect(curves.map((l) => [l.attrs['data-curve'], l.attrs.points?.split(' ').length])).toEqual([
      ['cold', 4],
      ['warmed', 4],
    ]);
    expect(allElements(root).some((e) => e.text === '1 s')).toBe(true);
  });

  it('redraws a run read back from JSON, where a ratio over 0 is null, without throwing', () => {
    const zero: ScenarioResult = {
      name: 'zero',
      title: 'a ratio over nothing',
      settings: {},
      ratios: { 'steady/0': { value: Number.NaN, target: '>= 0.9', met: false } },
      phases: {},
    };
    const readBack = JSON.parse(JSON.stringify({ ...report, scenarios: [zero] })) as BenchReport;
    expect(
      readBack.scenarios[0] &&
        'ratios' in readBack.scenarios[0] &&
        readBack.scenarios[0].ratios['steady/0']?.value,
    ).toBeNull();
    const again = runCharts(readBack);
    expect(toMarkdown(readBack, { run: again, path: '' })).toContain('| steady/0 | null | >= 0.9 | NO |');
    expect(again.charts[0]?.svg).toContain('null (target &#62;= 0.9: NOT met)');
  });

  it('embeds every chart in the Markdown, relative to where the Markdown is', () => {
    const readme = toMarkdown(report, { run, path: 'bench/results/' });
    for (const c of run.charts) expect(readme).toContain(`](bench/results/${c.file})`);
    expect(readme.indexOf(`](bench/results/${RATIOS_CHART})`)).toBeLessThan(readme.indexOf('### speed'));
    expect(readme.indexOf('](bench/results/speed_latency.svg)')).toBeGreaterThan(readme.indexOf('### speed'));
    expect(toMarkdown(report, { run, path: '' })).toContain(`](${RATIOS_CHART})`);
  });

  it('writes the charts to files; a full run removes the charts an earlier run left', () => {
    const dir = makeTempDir('bench-charts-');
    writeFileSync(join(dir, 'gone_latency.svg'), '<svg/>');
    writeFileSync(join(dir, 'latest.json'), '{}');
    writeCharts(dir, run.charts, false);
    expect(existsSync(join(dir, 'gone_latency.svg'))).toBe(true);
    writeCharts(dir, run.charts, true);
    expect(readdirSync(dir).sort()).toEqual([...files, 'latest.json'].sort());
    expect(readFileSync(join(dir, RATIOS_CHART), 'utf8')).toBe(run.charts[0]?.svg);
  });
});

describe('the XML check the chart tests rely on', () => {
  it('refuses what is not well-formed', () => {
    for (const bad of [
      '<svg><g></svg>',
      '<svg a="1" a="2"/>',
      '<svg a=1/>',
      '<svg><text>a < b</text></svg>',
      '<svg><text>a & b</text></svg>',
      '<svg/><svg/>',
      '<svg>',
    ]) {
      expect(() => parseXml(bad), bad).toThrow(/not well-formed/);
    }
    expect(parseXml('<?xml version="1.0"?><svg a="&#60;&amp;"><t>x &lt; y</t></svg>').children[0]?.text).toBe(
      'x < y',
    );
  });
});

describe("the README's Performance section", () => {
  const root = new URL('../../', import.meta.url);
  const readme = readFileSync(new URL('README.md', root), 'utf8');

  it('embeds charts that are there and well-formed, between the markers a run rewrites', () => {
    const start = readme.indexOf('<!-- bench:start -->');
    const block = readme.slice(start, readme.indexOf('<!-- bench:end -->'));
    const charts = [...block.matchAll(/!\[[^\]]*\]\((bench\/results\/[\w.-]+\.svg)\)/g)].map(
      (m) => m[1] as string,
    );
    expect(charts).toContain(`bench/results/${RATIOS_CHART}`);
    for (const chart of charts) expect(parseXml(readFileSync(new URL(chart, root), 'utf8')).name).toBe('svg');
    // The block sits in the Performance section, which gives the command.
    const headings = [...readme.slice(0, start).matchAll(/^## (.+)$/gm)];
    const section = headings[headings.length - 1];
    expect(section?.[1]).toBe('Performance');
    expect(readme.slice(section?.index, start)).toContain('`npm run bench`');
  });

  it('is still where links to #benchmarks land', () => {
    const anchor = readme.indexOf('<a id="benchmarks"></a>');
    expect(anchor).toBeGreaterThan(-1);
    expect(readme.indexOf('## Performance')).toBeGreaterThan(anchor);
    expect(readme.slice(anchor, readme.indexOf('## Performance')).trim()).toBe('<a id="benchmarks"></a>');
  });
});
