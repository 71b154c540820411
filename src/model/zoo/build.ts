import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFlowerEmbeddingModel } from './flower_embedding.js';
import { buildHeavyModel } from './heavy.js';
import { buildIrisModel } from './iris.js';
import { irisFlowersCsv } from './iris_features.js';
import type { BuiltModel } from './onnx_graph.js';

export interface WrittenModel {
  name: string;
  version: number;
  path: string;
  bytes: number;
  sha256: string;
  /** Whether model.onnx or model.json had to be (re)written. */
  changed: boolean;
}

const SHIPPED: ReadonlyArray<{ name: string; version: number; build: () => BuiltModel }> = [
  { name: 'iris', version: 1, build: () => buildIrisModel() },
  { name: 'heavy', version: 1, build: () => buildHeavyModel() },
  { name: 'flower_embedding', version: 1, build: () => buildFlowerEmbeddingModel() },
];

/** The default model repository: `<repo>/models`, from either dist/model/zoo or src/model/zoo. */
export function defaultModelsDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../..', 'models');
}

/** Writes `<dir>/<name>/<version>/model.onnx` and `model.json` for one built model. */
export async function writeModel(
  dir: string,
  name: string,
  version: number,
  model: BuiltModel,
): Promise<WrittenModel> {
  const versionDir = join(dir, name, String(version));
  await mkdir(versionDir, { recursive: true });
  const json = `${JSON.stringify(model.meta, null, 2)}\n`;
  // model.json first so anything watching for model.onnx finds its metadata already in place.
  const jsonChanged = await writeIfChanged(join(versionDir, 'model.json'), new TextEncoder().encode(json));
  const path = join(versionDir, 'model.onnx');
  const changed = (await writeIfChanged(path, model.onnx)) || jsonChanged;
  const sha256 = createHash('sha256').update(model.onnx).digest('hex');
  return { name, version, path, bytes: model.onnx.length, sha256, changed };
}

export async function buildShippedModels(dir: string = defaultModelsDir()): Promise<WrittenModel[]> {
  const written: WrittenModel[] = [];
  for (const { name, version, build } of SHIPPED) written.push(await writeModel(dir, name, version, build()));
  return written;
}

/** The example feature data the shipped views file names: `<dir>/feature_data/<view>.csv`. */
export async function writeShippedFeatureData(
  dir: string = defaultModelsDir(),
): Promise<{ path: string; rows: number; changed: boolean }[]> {
  const dataDir = join(dir, 'feature_data');
  await mkdir(dataDir, { recursive: true });
  const csv = irisFlowersCsv();
  const path = join(dataDir, 'iris_flowers.csv');
  const changed = await writeIfChanged(path, new TextEncoder().encode(csv));
  return [{ path, rows: csv.split('\n').length - 2, changed }];
}

// Leaves identical files alone so mtimes (and file watchers) see no change, and swaps changed
// ones in by rename so a reader never observes a half-written model.
async function writeIfChanged(path: string, bytes: Uint8Array): Promise<boolean> {
  const existing = await readFile(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (existing?.equals(bytes)) return false;
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
  return true;
}

async function main(): Promise<void> {
  const dir = process.argv[2] ? resolve(process.argv[2]) : defaultModelsDir();
  for (const m of await buildShippedModels(dir)) {
    const rel = relative(process.cwd(), m.path);
    const shown = rel.startsWith('..') ? m.path : rel;
    const status = m.changed ? 'written' : 'unchanged';
    console.log(
      `${m.name}@${m.version}  ${shown}  ${m.bytes} bytes  sha256:${m.sha256.slice(0, 12)}  ${status}`,
    );
  }
  for (const d of await writeShippedFeatureData(dir)) {
    const rel = relative(process.cwd(), d.path);
    console.log(
      `${rel.startsWith('..') ? d.path : rel}  ${d.rows} rows  ${d.changed ? 'written' : 'unchanged'}`,
    );
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main().catch((err: unknown) => {
    console.error(
      `models: failed to build the shipped models: ${err instanceof Error ? err.message : String(err)}`,
    );
    process.exitCode = 1;
  });
}
