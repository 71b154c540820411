import type { EntityEmbeddingService } from '../embeddings/entity_embeddings.js';
import type { EntityColumnWire } from '../features/entity_keys.js';
import type { FeatureView } from '../features/view.js';
import type { Model, ReadyVersion } from '../model/registry.js';
import type { WarmingMetrics } from '../ops/metrics.js';
import type { EntityPlans } from '../predict/entity_plan.js';
import type { EntityPredictService } from '../predict/entity_service.js';

export interface VersionWarmingDeps {
  readonly models: () => ReadonlyMap<string, Model>;
  readonly plans: EntityPlans;
  readonly predictions: EntityPredictService;
  readonly embeddings: EntityEmbeddingService;
  readonly metrics: WarmingMetrics;
}

const NO_CACHE_CONTROL = { bypass: false, noStore: false, maxAgeMs: 0 };

/**
 * What warming computes for a model version callable by entity: its
 * embeddings (both variants, one run) when its model.json declares an
 * `embedding`, its predictions otherwise. Versions that cannot be called by
 * entity have nothing to warm: their rows are not keyed by entity.
 */
export function versionWarming(deps: VersionWarmingDeps) {
  const viewsOf = (mv: ReadyVersion): FeatureView[] => {
    const plan = deps.plans.of(mv);
    if (plan === undefined) return [];
    return [...new Set(plan.inputs.flatMap((i) => i.parts.map((p) => p.view)))];
  };
  return {
    viewsOf,
    versionsReading(view: FeatureView): ReadyVersion[] {
      const out: ReadyVersion[] = [];
      for (const model of deps.models().values()) {
        if (model.current !== undefined && viewsOf(model.current).includes(view)) out.push(model.current);
      }
      return out;
    },
    async warmVersion(mv: ReadyVersion, columns: EntityColumnWire[], signal: AbortSignal): Promise<void> {
      if (mv.metadata.embedding !== undefined) {
        const rows = await deps.embeddings.warm(mv, columns, signal);
        deps.metrics.rows.labels('e', 'warmed').inc(rows);
        return;
      }
      const result = await deps.predictions.predict({
        model: mv.name,
        version: mv.version,
        pinned: mv,
        entities: columns,
        cache: NO_CACHE_CONTROL,
        deadline: Number.POSITIVE_INFINITY,
        signal,
        countLookup: false,
      });
      deps.metrics.rows.labels('p', 'warmed').inc(result.rowStatuses.filter((s) => s === 'ok').length);
    },
  };
}
