import { invalidArgument, limitExceeded, quote } from '../errors.js';
import type { FeatureView } from './view.js';

export interface FeatureRef {
  readonly view: FeatureView;
  /** The feature's position in the view. */
  readonly index: number;
}

// References in one call: a whole view counts as one.
const MAX_REFS = 1000;

/**
 * A GetFeatures call's references ("view:feature", "view" or "view:*" for
 * the whole view) as features of known views, and the views in the order
 * first named. Every view of a call must share its join keys: one set of
 * entity columns answers them all.
 */
export function resolveRefs(
  all: ReadonlyMap<string, FeatureView>,
  refNames: readonly string[],
): { refs: FeatureRef[]; views: FeatureView[] } {
  if (refNames.length === 0) throw invalidArgument('features: name at least one "view:feature" or "view"');
  if (refNames.length > MAX_REFS)
    throw limitExceeded(`${refNames.length} feature references; at most ${MAX_REFS}`);
  const refs: FeatureRef[] = [];
  const views: FeatureView[] = [];
  for (const ref of refNames) {
    const colon = ref.indexOf(':');
    const viewName = colon === -1 ? ref : ref.slice(0, colon);
    const featureName = colon === -1 ? '*' : ref.slice(colon + 1);
    const view = all.get(viewName);
    if (view === undefined) {
      throw invalidArgument(
        `features: unknown view ${quote(viewName)} (views: ${[...all.keys()].slice(0, 8).join(', ') || 'none'})`,
      );
    }
    if (!views.includes(view)) views.push(view);
    if (featureName === '*') {
      for (let index = 0; index < view.features.length; index++) refs.push({ view, index });
    } else {
      const index = view.index.get(featureName);
      if (index === undefined)
        throw invalidArgument(`features: view ${view.name} has no feature ${quote(featureName)}`);
      refs.push({ view, index });
    }
  }
  const keyOf = (v: FeatureView) => v.joinKeys.map((k) => `${k.name}:${k.type}`).join(',');
  const first = views[0] as FeatureView;
  const other = views.find((v) => keyOf(v) !== keyOf(first));
  if (other !== undefined) {
    throw invalidArgument(
      `features: views ${first.name} and ${other.name} have different join keys; ask for them in separate calls`,
    );
  }
  return { refs, views };
}

/**
 * Refuses a call whose answer would pass `limit` bytes even at its smallest
 * (each value at least a byte and its status a byte, each column its name):
 * the references are counted before a whole view expands, so a 2 KB request
 * naming a wide view a thousand times would otherwise build an answer of
 * hundreds of MB, to have grpc-js refuse it after.
 */
export function checkAnswerSize(
  refs: readonly FeatureRef[],
  entities: number,
  limit: number | undefined,
): void {
  if (limit === undefined) return;
  let least = 0;
  for (const ref of refs)
    least += ref.view.name.length + (ref.view.features[ref.index]?.name.length ?? 0) + 8;
  least += refs.length * entities * 2;
  if (least > limit) {
    throw limitExceeded(
      `${refs.length} features × ${entities} entities make an answer of at least ${least} bytes; the limit is ${limit} (INFERCACHE_MAX_MESSAGE_BYTES)`,
    );
  }
}
