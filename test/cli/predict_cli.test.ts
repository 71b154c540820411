import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { f32Of, irisRequest } from '../helpers/requests.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const mainJs = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/cli/main.js ...args` and resolves with its exit code and output (never rejects). */
function cli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [mainJs, ...args],
      { cwd: repoRoot, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: number | string }).code as number | null) : 0;
        resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
      },
    );
  });
}

interface JsonOutput {
  model: string;
  version: string;
  rowCached: boolean;
  sources: string[];
  outputs: Record<string, { shape: number[]; values: unknown[] }>;
  labels: string[];
}

describe('infercache predict (CLI)', () => {
  let sidecar: Sidecar;
  beforeAll(async () => {
    sidecar = await startSidecar({ redisUrl: '' });
  });
  afterAll(stopAllSidecars);

  const predict = (...args: string[]) => cli(['predict', '--addr', sidecar.grpcAddr, ...args]);

  it('prints the probabilities, the label and the row source; a second run says l1', async () => {
    const first = await predict('-m', 'iris', '-i', 'features=5.1,3.5,1.4,0.2');
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^model iris version 1$/m);
    const row = /^row 0 \[(\w+)\] probabilities=\[([^\]]*)\] label=\[(\d+)\] \((\w+)\)$/m.exec(first.stdout);
    expect(row, first.stdout).not.toBeNull();
    const [, source, probabilities, label, labelName] = row as RegExpExecArray;
    expect(source).toBe('model');
    const p = (probabilities as string).split(',').map(Number);
    expect(p).toHaveLength(3);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    // The classic first iris sample is a setosa.
    expect(label).toBe('0');
    expect(labelName).toBe('setosa');

    const second = await predict('-m', 'iris', '-i', 'features=5.1,3.5,1.4,0.2');
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^row 0 \[l1\] probabilities=/m);
  });

  it('prints parseable JSON with -o json, with the values the API returns', async () => {
    const run = await predict('-m', 'iris', '-i', 'features=6.7,3.0,5.2,2.3;5.0,3.6,1.4,0.2', '-o', 'json');
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as JsonOutput;
    expect(out).toMatchObject({ model: 'iris', version: '1', rowCached: true, sources: ['model', 'model'] });
    expect(out.labels).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(out.outputs.probabilities?.shape).toEqual([2, 3]);
    expect(out.outputs.label?.shape).toEqual([2]);
    expect(out.outputs.label?.values.map(String)).toEqual(['2', '0']);

    const api = await sidecar.client.predict(
      irisRequest([
        [6.7, 3.0, 5.2, 2.3],
        [5.0, 3.6, 1.4, 0.2],
      ]),
    );
    expect(out.outputs.probabilities?.values).toEqual(Array.from(f32Of(api.outputs.probabilities)));
  });

  it('takes inputs as JSON nested arrays with --json', async () => {
    const json = JSON.stringify({ features: [[5.9, 3.0, 4.2, 1.5]] });
    const run = await predict('-m', 'iris', '--json', json, '-o', 'json');
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as JsonOutput;
    expect(out.sources).toEqual(['model']);
    expect(out.outputs.probabilities?.shape).toEqual([1, 3]);
    expect(out.outputs.label?.values.map(String)).toEqual(['1']);

    // The same row through --input is now an L1 hit: both forms build the same tensor.
    const again = await predict('-m', 'iris', '-i', 'features=5.9,3.0,4.2,1.5', '-o', 'json');
    expect((JSON.parse(again.stdout) as JsonOutput).sources).toEqual(['l1']);
  });

  it("predicts by entity with --entity, printing each row's entity and status", async () => {
    const now = Date.now();
    const measurements = [
      [4.9, 3.0, 1.4, 0.2],
      [6.3, 3.3, 6.0, 2.5],
    ];
    await sidecar.client.putFeatures({
      view: 'iris_flowers',
      entities: { columns: [{ name: 'flower_id', int64_values: ['101', '102'] }] },
      features: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'].map((name, j) => ({
        name,
        type: 1,
        float32_values: measurements.map((m) => m[j] as number),
      })),
      event_time_ms: [now, now],
    });
    const run = await predict('-m', 'iris', '--entity', '101', '-e', '102,999');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('model iris version 1');
    expect(lines[1]).toMatch(
      /^row 0 \[model\] flower_id=101 ok probabilities=\[[^\]]+\] label=\[0\] \(setosa\)$/,
    );
    expect(lines[2]).toMatch(
      /^row 1 \[model\] flower_id=102 ok probabilities=\[[^\]]+\] label=\[2\] \(virginica\)$/,
    );
    expect(lines[3]).toBe('row 2 [none] flower_id=999 entity_not_found');
    expect(lines).toHaveLength(4);

    const json = await predict('-m', 'iris', '-e', '999,102', '-o', 'json');
    expect(JSON.parse(json.stdout)).toMatchObject({
      sources: ['none', 'l1'],
      statuses: ['entity_not_found', 'ok'],
      outputs: { label: { shape: [2], values: [0, 2] } },
    });

    const both = await predict('-m', 'iris', '-e', '101', '-i', 'features=1,2,3,4');
    expect(both.code).not.toBe(0);
    expect(both.stderr).toMatch(/give --entity or --input\/--json, not both/);
    const notInt = await predict('-m', 'iris', '-e', 'abc');
    expect(notInt.stderr).toMatch(/--entity: "abc" is not an integer \(flower_id is int64\)/);
    const heavy = await predict('-m', 'heavy', '-e', '1');
    expect(heavy.stderr).toMatch(/model heavy takes no entities: its model.json maps no inputs to features/);
  });

  it('exits non-zero with a message for an unknown model', async () => {
    const run = await predict('-m', 'nope', '-i', 'features=1,2,3,4');
    expect(run.code).not.toBe(0);
    expect(run.code).not.toBeNull();
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/unknown model "nope" \(loaded: flower_embedding, heavy, iris\)/);
  });

  it('exits non-zero with a message when the sidecar refuses the input', async () => {
    const run = await predict('-m', 'iris', '-i', 'features=1,2,3');
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/input "features"/);
  });
});
