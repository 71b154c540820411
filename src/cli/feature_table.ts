import type { FeatureSpec, FeatureView } from '../features/view.js';
import type { FeatureValuesReply, GetFeaturesReply } from './client.js';

// infercache.v1.FeatureStatus and FeatureSource by number.
const STATUS_NAMES = ['unspecified', 'present', 'null_value', 'not_found', 'outside_max_age', 'stale'];
// Statuses of a value that is returned (a null one too: the type's zero stands in).
const RETURNED = new Set(['present', 'outside_max_age', 'stale']);
const SOURCE_NAMES = ['unspecified', 'l1', 'l2', 'origin', 'none'];
// Vector values shown in a text cell; -o json has them all.
const VECTOR_PREVIEW = 6;

type Shown = number | string | boolean | null | Shown[];

/** One entity of a GetFeatures reply, for -o json and the text table. */
export interface EntityRow {
  readonly id: Record<string, Shown>;
  readonly features: Record<string, { value: Shown; status: string }>;
  /** null when the entity was found nowhere. */
  readonly eventTimeMs: number | null;
  readonly ageMs: number | null;
  readonly source: string;
}

/** The reply as one row per entity: each feature's value and status, the row's event time, age and source. */
export function entityTable(
  view: FeatureView,
  ids: readonly (readonly string[])[],
  reply: GetFeaturesReply,
  now: number,
): EntityRow[] {
  const rows = reply.views.find((v) => v.view === view.name);
  return ids.map((id, r) => {
    const features: EntityRow['features'] = {};
    for (const column of reply.features) {
      const name = column.name.slice(column.name.indexOf(':') + 1);
      const spec = view.features[view.index.get(name) ?? -1];
      if (spec === undefined) continue;
      const status = STATUS_NAMES[column.statuses[r] ?? 0] ?? 'unspecified';
      features[name] = { value: RETURNED.has(status) ? valueAt(spec, column, r) : null, status };
    }
    const time = Number(rows?.event_time_ms[r] ?? 0);
    return {
      id: Object.fromEntries(view.joinKeys.map((k, j) => [k.name, idShown(k.type, id[j] as string)])),
      features,
      eventTimeMs: time > 0 ? time : null,
      ageMs: time > 0 ? now - time : null,
      source: SOURCE_NAMES[rows?.sources[r] ?? 0] ?? 'unspecified',
    };
  });
}

/**
 * Aligned columns: the ids, each feature's value (`null` for a null value,
 * `-` where the row was not found), the row's status (present,
 * outside_max_age, stale or not_found), its age and its source.
 */
export function tableText(view: FeatureView, rows: readonly EntityRow[]): string {
  const names = rows[0] === undefined ? [] : Object.keys(rows[0].features);
  const header = [...view.joinKeys.map((k) => k.name), ...names, 'status', 'age', 'source'];
  const lines = rows.map((row) => {
    const statuses = Object.values(row.features).map((f) => f.status);
    const status = ['not_found', 'stale', 'outside_max_age'].find((s) => statuses.includes(s)) ?? 'present';
    return [
      ...Object.values(row.id).map((v) => String(v)),
      ...Object.values(row.features).map((f) => (f.status === 'not_found' ? '-' : cell(f.value))),
      status,
      row.ageMs === null ? '-' : age(row.ageMs),
      row.source,
    ];
  });
  const widths = header.map((h, c) => Math.max(h.length, ...lines.map((l) => (l[c] as string).length)));
  const render = (cells: string[]) =>
    cells
      .map((t, c) => t.padEnd(widths[c] as number))
      .join('  ')
      .trimEnd();
  return `${[render(header), ...lines.map(render)].join('\n')}\n`;
}

/** "850ms", "12s", "3m12s", "2h05m", "5d03h": an age as a person reads it. */
function age(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  const a = Math.abs(ms);
  const two = (n: number) => String(Math.floor(n)).padStart(2, '0');
  if (a < 1000) return `${sign}${Math.round(a)}ms`;
  const s = Math.floor(a / 1000);
  if (s < 60) return `${sign}${s}s`;
  if (s < 3600) return `${sign}${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86_400) return `${sign}${Math.floor(s / 3600)}h${two((s % 3600) / 60)}m`;
  return `${sign}${Math.floor(s / 86_400)}d${two((s % 86_400) / 3600)}h`;
}

function valueAt(spec: FeatureSpec, column: FeatureValuesReply, r: number): Shown {
  switch (spec.type) {
    case 'float32':
      return float32(column.float32_values[r] ?? 0);
    case 'float32_vector':
      return column.float32_values.slice(r * spec.dim, (r + 1) * spec.dim).map(float32);
    case 'float64':
      return column.float64_values[r] ?? 0;
    case 'int32':
      return column.int32_values[r] ?? 0;
    case 'int64':
      return idShown('int64', column.int64_values[r] ?? '0');
    case 'bool':
      return column.bool_values[r] ?? false;
    case 'string':
      return (column.bytes_values[r] ?? Buffer.alloc(0)).toString('utf8');
    case 'bytes':
      return (column.bytes_values[r] ?? Buffer.alloc(0)).toString('base64');
  }
}

/** The shortest decimal that reads back as the same float32 (5.1, not 5.099999904632568). */
function float32(x: number): number {
  if (!Number.isFinite(x)) return x;
  for (let digits = 1; digits < 9; digits++) {
    const shorter = Number(x.toPrecision(digits));
    if (Math.fround(shorter) === x) return shorter;
  }
  return x;
}

/** An int64 as a JSON number where that is exact, else as its decimal string. */
function idShown(type: 'string' | 'int64', text: string): Shown {
  return type === 'int64' && Number.isSafeInteger(Number(text)) ? Number(text) : text;
}

function cell(v: Shown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) {
    const head = v.slice(0, VECTOR_PREVIEW).join(',');
    return v.length > VECTOR_PREVIEW ? `[${head},…(${v.length})]` : `[${head}]`;
  }
  return String(v);
}
