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

  it('exits non-zero with a message for an unknown model', async () => {
    const run = await predict('-m', 'nope', '-i', 'features=1,2,3,4');
    expect(run.code).not.toBe(0);
    expect(run.code).not.toBeNull();
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/unknown model "nope" \(loaded: heavy, iris\)/);
  });

  it('exits non-zero with a message when the sidecar refuses the input', async () => {
    const run = await predict('-m', 'iris', '-i', 'features=1,2,3');
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/input "features"/);
  });
});
