import type { KeyMemo } from '../cache/key_memo.js';
import { type KeyHasher, keyScope } from '../cache/keys.js';
import type { ReadyVersion } from '../model/registry.js';
import type { KeyContext } from '../predict/row_keys.js';
import type { EmbeddingTarget } from './embedding_target.js';

export interface EmbeddingKeyDeps {
  readonly keyPrefix: string;
  readonly hasher: KeyHasher;
  readonly keyMemo: KeyMemo;
  /** The current generation of an invalidation scope; embeddings follow their model's ("p:<model>"). */
  readonly generation: (scope: string) => number;
}

/**
 * How a version's vectors are keyed: the prediction keys' shape under kind
 * `e`, the scope naming the variant for a reader of redis-cli, and every row
 * hash salted with the model file's digest, the output, normalisation and
 * the stored dtype. Two variants never share an entry: a float16 reader
 * takes float32 values (embedding_kind.ts), so without the dtype in the key
 * a model.json switched to float16 would keep serving the float32 vectors.
 */
export function embeddingKeys(
  deps: EmbeddingKeyDeps,
  mv: ReadyVersion,
  target: EmbeddingTarget,
  normalize: boolean,
): KeyContext {
  return {
    scope: keyScope(deps.keyPrefix, 'e', mv.name, tag(deps, mv, target, normalize)),
    memo: deps.keyMemo,
    hasher: deps.hasher,
    digest: keyDigest(mv, target, normalize),
  };
}

/** Version, the model's invalidation generations, and the variant. */
function tag(deps: EmbeddingKeyDeps, mv: ReadyVersion, target: EmbeddingTarget, normalize: boolean): string {
  const { generation } = deps;
  const variant = `${normalize ? 'unit' : 'raw'}.${target.storeAs === 'float16' ? 'f16' : 'f32'}`;
  return `${mv.version}:g${generation(`p:${mv.name}`)}.${generation(`p:${mv.name}@${mv.version}`)}:${variant}`;
}

/**
 * What the row hashes start with besides the inputs: the model file's
 * digest, then the output (u16 length + UTF-8), normalisation and stored
 * dtype, each self-delimiting, so no two variants share a key.
 */
function keyDigest(mv: ReadyVersion, target: EmbeddingTarget, normalize: boolean): Buffer {
  const name = Buffer.from(target.outputName, 'utf8');
  const out = Buffer.allocUnsafe(mv.digest.length + 2 + name.length + 2);
  let at = mv.digest.copy(out, 0);
  at = out.writeUInt16LE(name.length, at);
  at += name.copy(out, at);
  out[at++] = normalize ? 1 : 0;
  out[at] = target.storeAs === 'float16' ? 16 : 32;
  return out;
}
