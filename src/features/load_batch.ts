import type { EntityColumnWire } from './entity_keys.js';
import { FEATURE_TYPE_NUMBER, fieldOf } from './feature_columns.js';
import type { FeatureValue } from './feature_row.js';
import { STATUS } from './freshness.js';
import type { LoadRow } from './load_row.js';
import type { FeatureView } from './view.js';

/** A batch's entity keys, one column per join key, as a request carries them. */
export function entityColumns(view: FeatureView, rows: readonly LoadRow[]): EntityColumnWire[] {
  return view.joinKeys.map((key, j) => {
    const values = rows.map((r) => r.ids[j] as string);
    return key.type === 'string'
      ? { name: key.name, string_values: values, int64_values: [] }
      : { name: key.name, string_values: [], int64_values: values };
  });
}

/**
 * A batch as an infercache.v1.PutFeaturesRequest (for a sidecar's
 * PutFeatures): every feature of the view as a column, a null as the type's
 * zero marked NULL_VALUE.
 */
export function putFeaturesRequest(view: FeatureView, rows: readonly LoadRow[]) {
  return {
    view: view.name,
    entities: { columns: entityColumns(view, rows) },
    features: view.features.map((spec, f) => {
      const values: unknown[] = [];
      const statuses = new Array<number>(rows.length);
      rows.forEach((row, r) => {
        const v = row.values[f] ?? null;
        statuses[r] = v === null ? STATUS.NULL_VALUE : STATUS.PRESENT;
        if (spec.type === 'float32_vector') {
          for (let d = 0; d < spec.dim; d++) values.push(v === null ? 0 : (v as Float32Array)[d]);
        } else values.push(wire(spec.type, v));
      });
      return {
        name: spec.name,
        type: FEATURE_TYPE_NUMBER[spec.type],
        dim: spec.type === 'float32_vector' ? spec.dim : 0,
        [fieldOf(spec.type)]: values,
        statuses,
      };
    }),
    event_time_ms: rows.map((r) => String(r.eventTime)),
  };
}

function wire(type: string, v: FeatureValue): unknown {
  if (v === null) {
    if (type === 'bool') return false;
    if (type === 'string' || type === 'bytes') return Buffer.alloc(0);
    return type === 'int64' ? '0' : 0;
  }
  if (typeof v === 'bigint' || (type === 'int64' && typeof v === 'number')) return String(v);
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  return v;
}
