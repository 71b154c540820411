import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { type ModelMetadata, readMetadata } from './metadata.js';
import { sessionKey } from './session_release.js';
import { type Signature, signatureFromMetadata } from './signature.js';

export interface ReadyVersion {
  readonly state: 'ready';
  readonly name: string;
  readonly version: string;
  readonly path: string;
  /** First 16 bytes of the file's SHA-256: part of every cache key's hash. */
  readonly digest: Buffer;
  /** The session's name in the inference workers (path and digest). */
  readonly sessionKey: string;
  readonly signature: Signature;
  readonly metadata: ModelMetadata;
}

export interface FailedVersion {
  readonly state: 'failed';
  readonly name: string;
  readonly version: string;
  readonly path: string;
  readonly error: string;
}

/** A ready version beyond the number kept loaded: its sessions were released. */
interface UnloadedVersion {
  readonly state: 'unloaded';
  readonly name: string;
  readonly version: string;
  readonly path: string;
}

export type ModelVersion = ReadyVersion | FailedVersion | UnloadedVersion;

export interface Model {
  readonly name: string;
  /** Newest first (numeric-aware order of the directory names). */
  readonly versions: readonly ModelVersion[];
  /** The version serving requests that name none: the fleet's choice, or the newest ready. */
  readonly current: ReadyVersion | undefined;
  /** The version the fleet chose when this sidecar cannot serve it (it keeps its own). */
  readonly mismatch?: string;
}

/**
 * A check of a loaded version against what lies outside the model room (the
 * feature views its model.json names, say); throwing fails that version.
 */
export type VersionCheck = (version: ReadyVersion) => void;

/**
 * Loads one version: reads `model.onnx` and `model.json`, and reads the
 * signature from an onnxruntime session (created and released here: the
 * long-lived sessions are in the workers). A version that fails is
 * returned as failed, with why, so health and ListModels can say so.
 * `check` runs on a version that loaded.
 */
export async function loadVersion(
  name: string,
  version: string,
  path: string,
  metaPath: string,
  check?: VersionCheck,
): Promise<ReadyVersion | FailedVersion> {
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
      const ready: ReadyVersion = {
        state: 'ready',
        name,
        version,
        path,
        digest,
        sessionKey: sessionKey(path, digest),
        signature,
        metadata,
      };
      check?.(ready);
      return ready;
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
