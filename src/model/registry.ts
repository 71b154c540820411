import { createHash } from 'node:crypto';
import { access, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { type ModelMetadata, readMetadata } from './metadata.js';
import { type Signature, signatureFromMetadata } from './signature.js';

export interface ReadyVersion {
  readonly state: 'ready';
  readonly name: string;
  readonly version: string;
  readonly path: string;
  /** First 16 bytes of the file's SHA-256: part of every cache key's hash. */
  readonly digest: Buffer;
  readonly signature: Signature;
  readonly metadata: ModelMetadata;
}

interface FailedVersion {
  readonly state: 'failed';
  readonly name: string;
  readonly version: string;
  readonly path: string;
  readonly error: string;
}

export type ModelVersion = ReadyVersion | FailedVersion;

export interface Model {
  readonly name: string;
  /** Newest first (numeric-aware order of the directory names). */
  readonly versions: readonly ModelVersion[];
  /** The newest ready version, if any. */
  readonly current: ReadyVersion | undefined;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const versionOrder = new Intl.Collator('en', { numeric: true });

/**
 * Scans `<dir>/<name>/<version>/model.onnx` and reads each signature from an
 * onnxruntime session (created and released here: the long-lived sessions are
 * in the workers). A version that fails to load is kept, as failed, so health
 * and ListModels can say why; the others serve.
 */
export async function loadModels(dir: string): Promise<Map<string, Model>> {
  const models = new Map<string, Model>();
  for (const name of await subdirs(dir)) {
    if (!NAME.test(name)) continue;
    const versions: ModelVersion[] = [];
    const found = (await subdirs(join(dir, name))).filter((v) => NAME.test(v));
    for (const version of found.sort((a, b) => versionOrder.compare(b, a))) {
      const path = join(dir, name, version, 'model.onnx');
      if (!(await exists(path))) continue;
      versions.push(await loadVersion(name, version, path, join(dir, name, version, 'model.json')));
    }
    if (versions.length === 0) continue;
    const current = versions.find((v): v is ReadyVersion => v.state === 'ready');
    models.set(name, { name, versions, current });
  }
  return models;
}

async function loadVersion(
  name: string,
  version: string,
  path: string,
  metaPath: string,
): Promise<ModelVersion> {
  try {
    const bytes = await readFile(path);
    const metadata = await readMetadata(metaPath);
    const session = await ort.InferenceSession.create(bytes);
    try {
      const signature = signatureFromMetadata(
        session.inputMetadata,
        session.outputMetadata,
        metadata.rowCacheable,
      );
      const digest = createHash('sha256').update(bytes).digest().subarray(0, 16);
      return { state: 'ready', name, version, path, digest, signature, metadata };
    } finally {
      await session.release();
    }
  } catch (error) {
    return {
      state: 'failed',
      name,
      version,
      path,
      error: error instanceof Error ? error.message : String(error),
    };
  }
}

async function subdirs(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
