import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTrace } from '../../src/cache/trace.js';
import { openTrace } from '../../src/cache/trace_recorder.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { memoryLog } from '../helpers/memory_log.js';
import { makeTempDir } from '../helpers/temp_dirs.js';

const OPTIONS = { keys: 1, accesses: 1, entryBytes: 512, seed: 1 };
const HEADER = '# infercache trace v1 sample=0.25 started=2025-01-01T00:00:00.000Z';

function file(lines: string[]): string {
  const path = join(makeTempDir('recorded-'), 'l1.trace');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

describe('reading a trace the sidecar recorded', () => {
  it('replays its lookups; stores only give sizes, each key the largest it was given', () => {
    const path = file([
      HEADER,
      'p:0a', // a miss: sized by its store below
      '+p:0a,300',
      'p:0a,300',
      'p:0b,200',
      '+p:0b,250', // the row grew: the larger size counts
      'p:0b,200',
      '# lookups p=40 f=0 e=0',
    ]);
    const t = loadTrace(path, OPTIONS);
    expect(Array.from(t.keys)).toEqual([0, 0, 1, 1]);
    expect(Array.from(t.sizes)).toEqual([300, 250]);
    expect([t.sampleRate, t.fullAccesses, t.recorded]).toEqual([0.25, 40, { l1Hits: 3, unsized: 0 }]);
  });

  it("sizes a key never given one at the median of its kind's, or the entry size when its kind has none", () => {
    const path = file([HEADER, 'f:1,100', 'f:2,300', 'f:3,200', 'f:4', 'e:5', '# lookups p=0 f=9 e=1']);
    const t = loadTrace(path, OPTIONS);
    expect(Array.from(t.sizes)).toEqual([100, 300, 200, 200, 512]);
    expect(t.recorded?.unsized).toBe(2);
  });

  it("keeps one kind's lookups, and its count of all lookups, with --kind", () => {
    const path = file([HEADER, 'p:1,100', 'f:2,200', 'p:1,100', 'e:3', '# lookups p=8 f=4 e=4']);
    const t = loadTrace(path, { ...OPTIONS, kind: 'p' });
    expect([t.name, t.keys.length, t.fullAccesses]).toEqual([`${path} [p]`, 2, 8]);
    expect(() => loadTrace(path, { ...OPTIONS, kind: 'e' })).not.toThrow();
    expect(() =>
      loadTrace(file([HEADER, 'p:1', '# lookups p=1 f=0 e=0']), { ...OPTIONS, kind: 'f' }),
    ).toThrow(/no lookups of kind f/);
  });

  it('leaves the count of all lookups unknown when a recording was cut short (no last line)', () => {
    const t = loadTrace(file([HEADER, 'p:1,100', 'p:1,100']), OPTIONS);
    expect(t.fullAccesses).toBeUndefined();
    const two = file([HEADER, 'p:1', '# lookups p=1 f=0 e=0', HEADER, 'p:1,100']);
    expect(loadTrace(two, OPTIONS).fullAccesses).toBeUndefined();
  });

  it('refuses a line it does not know, another format version and a mixture of rates, naming the line', () => {
    expect(() => loadTrace(file([HEADER, 'p:1,100', 'x:zz']), OPTIONS)).toThrow(
      /l1.trace:3: not a trace line/,
    );
    expect(() => loadTrace(file(['# infercache trace v2 sample=1', 'p:1']), OPTIONS)).toThrow(
      /:1: trace format v2; this reader knows v1/,
    );
    expect(() => loadTrace(file([HEADER, 'p:1', HEADER.replace('0.25', '0.5')]), OPTIONS)).toThrow(
      /:3: sampled at 0.5, the lines before at 0.25/,
    );
    expect(() => loadTrace(file(['x', 'y']), { ...OPTIONS, kind: 'p' })).toThrow(
      /--kind needs a recorded trace/,
    );
  });

  it('reads back what the recorder writes, with no key in it', async () => {
    const path = join(makeTempDir('recorded-'), 'l1.trace');
    const metrics = createMetrics();
    const trace = await openTrace({ path, sampleRate: 1, maxBytes: 1 << 20 }, metrics.trace, memoryLog().log);
    const secret = 'ic:f:users:g0:{12}entity-42';
    const hash = trace.sampled(secret) as bigint;
    trace.lookups('f').n += 3;
    trace.lookup('f', hash, 0);
    trace.store('f', hash, 180);
    trace.lookup('f', hash, 180);
    trace.lookups('p').n += 5;
    await trace.close();
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain('entity-42');
    const h = hash.toString(16).padStart(16, '0');
    expect(text.split('\n').slice(1)).toEqual([
      `f:${h}`,
      `+f:${h},180`,
      `f:${h},180`,
      '# lookups p=5 f=3 e=0',
      '',
    ]);
    const t = loadTrace(path, OPTIONS);
    expect([Array.from(t.keys), Array.from(t.sizes), t.sampleRate, t.fullAccesses]).toEqual([
      [0, 0],
      [180],
      1,
      8,
    ]);
  });

  it('refuses a file it cannot open, naming it', async () => {
    const path = join(makeTempDir('recorded-'), 'no-such-dir', 'l1.trace');
    await expect(
      openTrace({ path, sampleRate: 1, maxBytes: 1 << 20 }, createMetrics().trace, memoryLog().log),
    ).rejects.toThrow(`trace file ${path} cannot be opened for writing: ENOENT`);
  });
});
