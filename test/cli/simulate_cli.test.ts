import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const mainJs = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/cli/main.js simulate ...args` (never rejects). */
function simulate(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [mainJs, 'simulate', ...args],
      { cwd: repoRoot, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: number | string }).code as number | null) : 0;
        resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
      },
    );
  });
}

function traceFile(lines: string[]): string {
  const path = join(mkdtempSync(join(tmpdir(), 'infercache-sim-')), 'trace.csv');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

describe('infercache simulate (CLI)', () => {
  it('replays a trace file through each policy and prints the hit ratios worked out by hand', async () => {
    // Room for two 100-byte entries. LRU: a, b miss; a, b hit; c evicts a; a misses (2 of 6).
    // W-TinyLFU: c, seen once, is refused in favour of a, seen twice; a hits again (3 of 6).
    // Belady: c is never used again, so it is not kept (3 of 6).
    const path = traceFile(['key,bytes', 'a,100', 'b,100', 'a,100', 'b,100', 'c,100', 'a,100']);
    const run = await simulate(['--trace', path, '--capacity-bytes', '200', '--output', 'markdown']);
    expect(run.stderr).toBe('');
    expect(run.stdout.trim().split('\n')).toEqual([
      '| trace | L1 bytes | lru hit % | tinylfu hit % | opt hit % | tinylfu − lru (points) |',
      '| --- | --- | --- | --- | --- | --- |',
      `| ${path} | 200 | 33.33 | 50.00 | 50.00 | +16.67 |`,
    ]);
  });

  it('gives each line without bytes the entry size, and counts bytes per key', async () => {
    // Two keys of 150 bytes do not fit in 200: every access misses; at 300 both fit.
    const path = traceFile(['x', 'y', 'x', 'y']);
    const run = await simulate([
      '-t',
      path,
      '-c',
      '200,300',
      '--entry-bytes',
      '150',
      '-p',
      'lru',
      '-o',
      'json',
    ]);
    const results = JSON.parse(run.stdout) as { capacityBytes: number; hitRatio: number }[];
    expect(results.map((r) => [r.capacityBytes, r.hitRatio])).toEqual([
      [200, 0],
      [300, 0.5],
    ]);
  });

  it('generates seeded synthetic traces: the same numbers on every run, Belady above both policies', async () => {
    const args = ['-t', 'zipf:1.0', '-t', 'scan:0.8', '-t', 'loop', '-c', '5120,20480'];
    const synthetic = [
      ...args,
      '--keys',
      '1000',
      '--accesses',
      '20000',
      '--entry-bytes',
      '512',
      '-o',
      'json',
    ];
    const [first, second] = await Promise.all([simulate(synthetic), simulate(synthetic)]);
    expect(first.stdout).toBe(second.stdout);
    const results = JSON.parse(first.stdout) as {
      trace: string;
      capacityBytes: number;
      policy: string;
      hitRatio: number;
    }[];
    expect(results).toHaveLength(3 * 2 * 3);
    for (let i = 0; i < results.length; i += 3) {
      const [lru, tiny, opt] = results.slice(i, i + 3).map((r) => r.hitRatio) as [number, number, number];
      expect(results.slice(i, i + 3).map((r) => r.policy)).toEqual(['lru', 'tinylfu', 'opt']);
      expect(opt).toBeGreaterThanOrEqual(Math.max(lru, tiny));
    }
    const zipf = results.filter((r) => r.trace === 'zipf:1.0' && r.capacityBytes === 5120);
    expect(zipf[1]?.hitRatio).toBeGreaterThan((zipf[0]?.hitRatio as number) + 0.05);
  });

  it('replays a trace the sidecar recorded: sizes of the full traffic, scaled by its sample rate, one kind with --kind', async () => {
    const path = traceFile([
      '# infercache trace v1 sample=0.5 started=2025-01-01T00:00:00.000Z',
      'p:0a',
      '+p:0a,100',
      'p:0b',
      '+p:0b,100',
      'p:0a,100',
      'p:0b,100',
      'f:0c',
      '+f:0c,50',
      'f:0c,50',
      '# lookups p=8 f=2 e=0',
    ]);
    // Replayed in half of each size: at 400, the two predictions fit and hit
    // on their second lookup (2 of 4); the 4 lookups recorded are the half of
    // all 8 expected, so the estimate stays 50%. At 100 neither fits.
    const run = await simulate([
      '-t',
      path,
      '-c',
      '100,400',
      '--kind',
      'p',
      '-p',
      'lru,opt',
      '-o',
      'markdown',
    ]);
    expect(run.stderr).toBe('');
    expect(run.stdout.trim().split('\n')).toEqual([
      '| trace | L1 bytes | lru hit % | opt hit % |',
      '| --- | --- | --- | --- |',
      `| ${path} [p] | 100 | 0.00 | 0.00 |`,
      `| ${path} [p] | 400 | 50.00 | 50.00 |`,
      '',
      `${path} [p]: keys sampled at 0.5 (SHARDS): each L1 size is of the full traffic, replayed as 0.5 of it. 4 lookups of 2 keys recorded, of 8 in all; the recording sidecar's L1 answered 50.00% of them.`,
    ]);
    const json = await simulate(['-t', path, '-c', '400', '-p', 'lru', '-o', 'json']);
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ capacityBytes: 400, sampleRate: 0.5 }),
    ]);
    const other = await simulate(['-t', traceFile(['a', 'b']), '-c', '400', '--kind', 'p']);
    expect([other.code, other.stderr]).toEqual([1, expect.stringMatching(/--kind needs a recorded trace/)]);
  });

  it('refuses an unknown policy or trace with a message that names it', async () => {
    const policy = await simulate(['-c', '1000', '-p', 'lru,arc']);
    expect([policy.code, policy.stderr]).toEqual([
      1,
      'infercache: unknown policy arc; known: lru, tinylfu, opt\n',
    ]);
    const trace = await simulate(['-c', '1000', '-t', 'zipf:-1']);
    expect(trace.code).toBe(1);
    expect(trace.stderr).toMatch(/--trace zipf:-1: .*skew must be above 0/);
    const file = await simulate(['-c', '1000', '-t', '/nonexistent/trace.csv']);
    expect([file.code, file.stderr]).toEqual([
      1,
      expect.stringMatching(/--trace \/nonexistent\/trace.csv: ENOENT/),
    ]);
  });
  it('writes a chart of hit ratio against L1 size, a line per policy, with --svg', async () => {
    const path = traceFile(['key,bytes', 'a,100', 'b,100', 'a,100', 'b,100', 'c,100', 'a,100']);
    const svg = join(mkdtempSync(join(tmpdir(), 'infercache-sim-')), 'chart.svg');
    const run = await simulate(['--trace', path, '--capacity-bytes', '100,200,400', '--svg', svg]);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('lru hit %');
    const chart = readFileSync(svg, 'utf8');
    expect(chart.startsWith('<svg ')).toBe(true);
    const policies = [...chart.matchAll(/<polyline data-policy="(\w+)"[^>]* points="([^"]+)"/g)].map((m) => [
      m[1],
      (m[2] as string).split(' ').length,
    ]);
    expect(policies).toEqual([
      ['lru', 3],
      ['tinylfu', 3],
      ['opt', 3],
    ]);
  });
});
