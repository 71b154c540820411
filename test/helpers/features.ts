import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeModel } from '../../src/model/zoo/build.js';
import { buildIrisModel } from '../../src/model/zoo/iris.js';
import type { EntityKeysInput, FeatureValues, GetFeaturesResponse, PutFeaturesRequest } from './client.js';
import { makeTempDir } from './temp_dirs.js';

// Numbers of the infercache.v1 feature enums, as the client decodes them.
export const FT = {
  FLOAT32: 1,
  FLOAT64: 2,
  INT32: 3,
  INT64: 4,
  BOOL: 5,
  STRING: 6,
  BYTES: 7,
  FLOAT32_VECTOR: 8,
} as const;
export const ST = { PRESENT: 1, NULL_VALUE: 2, NOT_FOUND: 3, OUTSIDE_MAX_AGE: 4, STALE: 5 } as const;
export const FS = { L1: 1, L2: 2, ORIGIN: 3, NONE: 4 } as const;

/** Writes `{ views }` (JSON is YAML too) to a fresh temp file and returns its path. */
export function viewsFile(views: unknown[]): string {
  const path = join(makeTempDir('views-'), 'views.yaml');
  writeFileSync(path, JSON.stringify({ views }, null, 2));
  return path;
}

/**
 * A models directory holding only the small iris model: the sidecar reports
 * SERVING once a model is ready, and iris loads in milliseconds.
 */
export async function irisOnlyModels(): Promise<string> {
  const dir = makeTempDir('iris-only-');
  await writeModel(dir, 'iris', 1, buildIrisModel());
  return dir;
}

/** EntityKeys with one string join key column. */
export const stringIds = (name: string, ids: string[]): EntityKeysInput => ({
  columns: [{ name, string_values: ids }],
});

export type PutColumn = PutFeaturesRequest['features'][number];

/** The column of `name` ("view:feature") in a GetFeatures response. */
export function featureOf(res: GetFeaturesResponse, name: string): FeatureValues {
  const found = res.features.find((f) => f.name === name);
  if (found === undefined) {
    throw new Error(
      `no column ${name} in the response (columns: ${res.features.map((f) => f.name).join(', ')})`,
    );
  }
  return found;
}

/** The rows of `view` in a GetFeatures response. */
export function viewOf(res: GetFeaturesResponse, view: string): GetFeaturesResponse['views'][number] {
  const found = res.views.find((v) => v.view === view);
  if (found === undefined) throw new Error(`no view ${view} in the response`);
  return found;
}

/** A unique string id per call in this process, so tests sharing a sidecar never share entities. */
let nextId = 0;
export function freshIds(n: number, tag = 'e'): string[] {
  const base = `${tag}-${process.pid}-${Date.now().toString(36)}`;
  return Array.from({ length: n }, () => `${base}-${nextId++}`);
}
