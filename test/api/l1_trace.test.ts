import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { LAST_LINE_ROOM } from '../../src/cache/trace_writer.js';
import { metricValue } from '../helpers/metrics.js';
import { f32Tensor, IRIS_FEATURES, irisRequest, irisRows, SRC } from '../helpers/requests.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';
import { makeTempDir } from '../helpers/temp_dirs.js';

const mainJs = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

interface Line {
  readonly op: 'lookup' | 'store';
  readonly kind: string;
  readonly hash: string;
  /** Undefined for a lookup L1 missed. */
  readonly bytes: number | undefined;
}

/** A recorded trace: its header, its lookup and store lines, and its last line's counts. */
function readTrace(path: string) {
  const text = readFileSync(path, 'utf8');
  const rows = text.split('\n').filter((l) => l !== '');
  const lines: Line[] = [];
  let counts: Record<string, number> | undefined;
  for (const row of rows.slice(1)) {
    const last = /^# lookups p=(\d+) f=(\d+) e=(\d+)$/.exec(row);
    if (last !== null) {
      counts = { p: Number(last[1]), f: Number(last[2]), e: Number(last[3]) };
      continue;
    }
    const m = /^(\+?)([pfe]):([0-9a-f]{16})(?:,(\d+))?$/.exec(row);
    if (m === null) throw new Error(`not a trace line: ${row}`);
    lines.push({
      op: m[1] === '+' ? 'store' : 'lookup',
      kind: m[2] as string,
      hash: m[3] as string,
      bytes: m[4] === undefined ? undefined : Number(m[4]),
    });
  }
  const lookups = (kind: string) => lines.filter((l) => l.op === 'lookup' && l.kind === kind);
  const distinct = (ls: Line[]) => new Set(ls.map((l) => l.hash)).size;
  return { text, header: rows[0] as string, lines, lookups, distinct, counts };
}

async function tracing(env: Record<string, string>): Promise<{ sidecar: Sidecar; path: string }> {
  const path = join(makeTempDir('trace-'), 'l1.trace');
  const sidecar = await startSidecar({ redisUrl: '', env: { INFERCACHE_TRACE_FILE: path, ...env } });
  return { sidecar, path };
}

describe('the L1 trace (INFERCACHE_TRACE_FILE)', () => {
  afterAll(stopAllSidecars);

  it('records every L1 lookup of every kind, the synchronous all-L1 answers included, as hashes with sizes', async () => {
    const { sidecar, path } = await tracing({ INFERCACHE_TRACE_SAMPLE: '1' });
    const [a, b, c, d] = irisRows(4) as [number[], number[], number[], number[]];
    const predict = async (rows: number[][]) => (await sidecar.client.predict(irisRequest(rows))).row_sources;
    const { L1, MODEL } = SRC;
    // Lookups of predictions, in order: 3 misses; then 1 + 3 hits answered at
    // once from L1; a call L1 cannot answer entirely is looked up once more
    // key by key (1 hit, 1 miss), and only that is recorded; 2 hits of one
    // key named twice.
    expect(await predict([a, b, c])).toEqual([MODEL, MODEL, MODEL]);
    expect(await predict([a])).toEqual([L1]);
    expect(await predict([a, b, c])).toEqual([L1, L1, L1]);
    expect(await predict([a, d])).toEqual([L1, MODEL]);
    expect(await predict([d, d])).toEqual([L1, L1]);
    // Feature rows: two entities found nowhere, remembered in L1 as such, then hits.
    const flowers = { columns: [{ name: 'flower_id', int64_values: ['1', '2'] }] };
    for (let i = 0; i < 2; i++)
      await sidecar.client.getFeatures({ features: ['iris_flowers'], entities: flowers });
    // Embeddings: two rows computed, then hits.
    const embed = {
      model: 'flower_embedding',
      inputs: { features: f32Tensor([2, IRIS_FEATURES], [a, b].flat()) },
    };
    const sources = [];
    for (let i = 0; i < 2; i++)
      sources.push(
        (await sidecar.client.unary<{ row_sources: number[] }>('GetEmbeddings', embed)).row_sources,
      );
    expect(sources).toEqual([
      [MODEL, MODEL],
      [L1, L1],
    ]);
    expect(await sidecar.stop()).toBe(0);

    const trace = readTrace(path);
    expect(trace.header).toMatch(/^# infercache trace v1 sample=1 started=\d{4}-\d\d-\d\dT[\d:.]+Z$/);
    const p = trace.lookups('p');
    expect(p.map((l) => l.bytes !== undefined)).toEqual([
      ...[false, false, false],
      true,
      ...[true, true, true],
      ...[true, false],
      ...[true, true],
    ]);
    expect(trace.distinct(p)).toBe(4);
    for (const kind of ['f', 'e']) {
      expect(
        trace.lookups(kind).map((l) => l.bytes !== undefined),
        kind,
      ).toEqual([false, false, true, true]);
      expect(trace.distinct(trace.lookups(kind)), kind).toBe(2);
    }
    expect(trace.counts).toEqual({ p: 11, f: 4, e: 4 });
    // Each key that missed was then stored, and is charged the same on its stores and its hits.
    for (const line of trace.lines) {
      const sizes = trace.lines
        .filter((l) => l.hash === line.hash && l.bytes !== undefined)
        .map((l) => l.bytes);
      expect(sizes.length, `${line.kind}:${line.hash}`).toBeGreaterThan(0);
      expect(new Set(sizes).size).toBe(1);
      expect(sizes[0]).toBeGreaterThan(100);
    }
    expect(trace.lines.filter((l) => l.op === 'store')).toHaveLength(8);
    // No key, nor any part of one.
    for (const text of [sidecar.keyPrefix, 'iris', 'flower', ':p:', '{'])
      expect(trace.text).not.toContain(text);
  });

  it('records a key on every lookup or never: at sample 0.5, about half the keys; simulate replays it scaled', async () => {
    const { sidecar, path } = await tracing({ INFERCACHE_TRACE_SAMPLE: '0.5' });
    const rows = irisRows(200);
    await sidecar.client.predict(irisRequest(rows));
    expect((await sidecar.client.predict(irisRequest(rows))).row_sources).toEqual(rows.map(() => SRC.L1));
    expect(await sidecar.stop()).toBe(0);

    const trace = readTrace(path);
    expect(trace.header).toMatch(/ sample=0.5 /);
    const p = trace.lookups('p');
    const keys = trace.distinct(p);
    // Binomial(200, 0.5): 100 ± 7; a third either side is over four deviations.
    expect(keys).toBeGreaterThan(66);
    expect(keys).toBeLessThan(134);
    for (const hash of new Set(p.map((l) => l.hash))) {
      expect(p.filter((l) => l.hash === hash).map((l) => l.bytes !== undefined)).toEqual([false, true]);
    }
    expect(trace.counts).toEqual({ p: 400, f: 0, e: 0 });

    const { stdout } = await promisify(execFile)(process.execPath, [
      mainJs,
      'simulate',
      '--trace',
      path,
      '--kind',
      'p',
      '--capacity-bytes',
      '4000,400000',
    ]);
    const [header, ...rest] = stdout.trim().split('\n');
    expect(header).toMatch(/^trace +L1 bytes +lru hit %/);
    expect(rest.filter((l) => /^\S+ \[p\] +\d+ /.test(l)).map((l) => l.split(/ +/)[2])).toEqual([
      '4000',
      '400000',
    ]);
    expect(stdout).toContain(
      `${path} [p]: keys sampled at 0.5 (SHARDS): each L1 size is of the full traffic`,
    );
    // At the larger size every key hits on its second lookup: half the
    // lookups recorded, corrected (SHARDS-adj) by how far they are from half
    // of all 400, which the last line counts.
    const recorded = p.length;
    const adjusted = (recorded / 2 + 200 - recorded) / 200;
    expect(stdout).toContain(` 400000    ${(100 * adjusted).toFixed(2)} `);
    expect(stdout).toContain(`${recorded} lookups of ${keys} keys recorded, of 400 in all`);
  });

  it('stops at INFERCACHE_TRACE_MAX_BYTES with one warning, counting the lines it drops', async () => {
    const maxBytes = 1024;
    const { sidecar, path } = await tracing({
      INFERCACHE_TRACE_SAMPLE: '1',
      INFERCACHE_TRACE_MAX_BYTES: String(maxBytes),
    });
    // 100 misses and 100 stores: about 4 KiB of lines.
    await sidecar.client.predict(irisRequest(irisRows(100)));
    await sidecar.waitForLog((l) => l.msg === 'trace file reached its size bound: recording stopped');
    const scrape = await sidecar.metrics();
    expect(metricValue(scrape, 'infercache_trace_dropped_total', { reason: 'max_bytes' })).toBeGreaterThan(
      100,
    );
    expect(metricValue(scrape, 'infercache_trace_records_total', { kind: 'p', op: 'lookup' })).toBeLessThan(
      100,
    );
    await sidecar.client.predict(irisRequest(irisRows(10)));
    expect(await sidecar.stop()).toBe(0);

    const size = statSync(path).size;
    const trace = readTrace(path);
    const longest = Math.max(...trace.text.split('\n').map((l) => l.length + 1));
    // Under the bound; short of it by less than the room kept for the last line and one line.
    expect(size).toBeLessThanOrEqual(maxBytes);
    expect(size).toBeGreaterThan(maxBytes - LAST_LINE_ROOM - longest);
    expect(trace.text.endsWith('\n')).toBe(true);
    expect(trace.counts?.p).toBeGreaterThan(trace.lookups('p').length);
    expect(sidecar.logs().filter((l) => l.level === 40 && /trace file/.test(String(l.msg)))).toHaveLength(1);
  });

  it('refuses to start when the trace file cannot be opened, naming it', async () => {
    const path = join(makeTempDir('trace-'), 'no-such-dir', 'l1.trace');
    await expect(startSidecar({ redisUrl: '', env: { INFERCACHE_TRACE_FILE: path } })).rejects.toThrow(
      `trace file ${path} cannot be opened for writing`,
    );
  });
});
