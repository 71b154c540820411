import type { CacheKind } from '../cache/kind.js';
import type { FrameKind } from '../cache/value_frame.js';
import type { EmbeddingService } from '../embeddings/service.js';
import type { FeatureReader } from '../features/get_features.js';
import type { FeatureView } from '../features/view.js';
import type { Model } from '../model/registry.js';
import type { PredictService } from '../predict/service.js';

export interface StoredKindDeps {
  readonly prefix: string;
  readonly models: () => ReadonlyMap<string, Model>;
  readonly views: () => ReadonlyMap<string, FeatureView>;
  readonly predictions: PredictService;
  readonly embeddings: EmbeddingService;
  readonly features: FeatureReader;
}

/**
 * The cache kind that reads a stored key now (an L1 snapshot's entries):
 * its model version's or view's, if still there; undefined drops the entry.
 */
export function storedKind(d: StoredKindDeps, kind: FrameKind, key: string): CacheKind<object> | undefined {
  const [name, tag] = key.slice(d.prefix.length + 3).split(':');
  if (name === undefined || tag === undefined) return undefined;
  if (kind === 'f') {
    const view = d.views().get(name);
    return view === undefined ? undefined : (d.features.plumbing(view).kind as CacheKind<object>);
  }
  const mv = d
    .models()
    .get(name)
    ?.versions.find((v) => v.version === tag);
  if (mv?.state !== 'ready') return undefined;
  if (kind === 'p') return d.predictions.kindFor(mv) as CacheKind<object>;
  return d.embeddings.kindFor(mv) as CacheKind<object> | undefined;
}
