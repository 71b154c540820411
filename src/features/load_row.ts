import { invalidArgument } from '../errors.js';
import { eventTimeFromIso, eventTimeFromMs } from './event_time.js';
import type { FeatureValue } from './feature_row.js';
import { BadField, idFromJson, idFromText, valueFromJson, valueFromText } from './load_values.js';
import type { FeatureSpec, FeatureView, JoinKey } from './view.js';

/** One row checked against its view, ready to write. */
export interface LoadRow {
  /** Join key values in the view's order: an int64 as a decimal string. */
  readonly ids: readonly string[];
  readonly eventTime: number;
  /** In the view's feature order; null for a null value. */
  readonly values: readonly FeatureValue[];
}

/** A row, or why it is refused (without the row number, which the loader adds). */
export type Decoded = LoadRow | string;

const EVENT_TIME_MS = 'event_time_ms';
const EVENT_TIME = 'event_time';

type Column =
  | { readonly name: string; readonly role: 'id'; readonly index: number; readonly key: JoinKey }
  | { readonly name: string; readonly role: 'feature'; readonly index: number; readonly spec: FeatureSpec }
  | { readonly name: string; readonly role: 'ms' | 'iso' };

/** Every name a row of `view` may hold. */
function columnsOf(view: FeatureView): Map<string, Column> {
  const out = new Map<string, Column>();
  view.joinKeys.forEach((key, index) => {
    out.set(key.name, { name: key.name, role: 'id', index, key });
  });
  view.features.forEach((spec, index) => {
    out.set(spec.name, { name: spec.name, role: 'feature', index, spec });
  });
  // A feature may be named like the time columns; then it is a feature.
  if (!out.has(EVENT_TIME_MS)) out.set(EVENT_TIME_MS, { name: EVENT_TIME_MS, role: 'ms' });
  if (!out.has(EVENT_TIME)) out.set(EVENT_TIME, { name: EVENT_TIME, role: 'iso' });
  return out;
}

function expected(view: FeatureView): string {
  const keys = view.joinKeys.map((k) => k.name).join(', ');
  const features = view.features.map((f) => f.name).join(', ');
  return `view ${view.name} has join key(s) ${keys}; features ${features}; optionally ${EVENT_TIME_MS} or ${EVENT_TIME}`;
}

/**
 * The decoder of a CSV file's records, from its header: each column named
 * once, every join key present, unknown columns refused (a typo would
 * otherwise load as a column of nulls). A feature the header leaves out is
 * written as null, as PutFeatures does. An empty cell is a null value, or
 * the default event time.
 */
export function csvDecoder(
  view: FeatureView,
  header: readonly string[],
  defaultTime: number,
): (cells: readonly string[]) => Decoded {
  const known = columnsOf(view);
  const plan = header.map((raw, c) => {
    const name = (c === 0 ? raw.replace(/^\uFEFF/, '') : raw).trim();
    const column = known.get(name);
    if (column === undefined) throw invalidArgument(`header: unknown column "${name}"; ${expected(view)}`);
    if (header.slice(0, c).some((other) => other.trim() === name))
      throw invalidArgument(`header: column "${name}" appears twice`);
    return column;
  });
  const missing = view.joinKeys.filter((k) => !plan.some((c) => c.name === k.name));
  if (missing.length > 0) {
    throw invalidArgument(`header: no column for join key ${missing.map((k) => k.name).join(', ')}`);
  }
  if (plan.some((c) => c.role === 'ms') && plan.some((c) => c.role === 'iso')) {
    throw invalidArgument(`header: give ${EVENT_TIME_MS} or ${EVENT_TIME}, not both`);
  }
  const width = plan.length;
  const features = view.features.length;
  return (cells) => {
    if (cells.length !== width) return `${cells.length} cells; the header has ${width}`;
    const ids = new Array<string>(view.joinKeys.length);
    const values = new Array<FeatureValue>(features).fill(null);
    let eventTime = defaultTime;
    for (let c = 0; c < width; c++) {
      const column = plan[c] as Column;
      const text = cells[c] as string;
      try {
        switch (column.role) {
          case 'feature':
            if (text !== '') values[column.index] = valueFromText(column.spec, text);
            break;
          case 'id':
            if (text === '') return `no ${column.name}`;
            ids[column.index] = idFromText(column.key, text);
            break;
          case 'ms':
            if (text !== '') eventTime = eventTimeFromMs(text);
            break;
          case 'iso':
            if (text !== '') eventTime = eventTimeFromIso(text);
            break;
        }
      } catch (error) {
        if (error instanceof BadField) return `${column.name}: ${error.message}`;
        throw error;
      }
    }
    return { ids, eventTime, values };
  };
}

/**
 * The decoder of JSON lines: one object per line, keyed by column name as in
 * a CSV header; null or a missing feature is a null value.
 */
export function jsonDecoder(view: FeatureView, defaultTime: number): (line: string) => Decoded {
  const known = columnsOf(view);
  const plan = [...known.values()];
  return (line) => {
    let object: unknown;
    try {
      object = JSON.parse(line);
    } catch (error) {
      return `not JSON (${(error as Error).message})`;
    }
    if (typeof object !== 'object' || object === null || Array.isArray(object)) return 'not a JSON object';
    const record = object as Record<string, unknown>;
    const ids = new Array<string>(view.joinKeys.length);
    const values = new Array<FeatureValue>(view.features.length).fill(null);
    let eventTime = defaultTime;
    let times = 0;
    let seen = 0;
    for (const column of plan) {
      const v = record[column.name];
      if (v === undefined) continue;
      seen++;
      try {
        switch (column.role) {
          case 'feature':
            if (v !== null) values[column.index] = valueFromJson(column.spec, v);
            break;
          case 'id':
            if (v === null) return `no ${column.name}`;
            ids[column.index] = idFromJson(column.key, v);
            break;
          case 'ms':
          case 'iso':
            if (v === null) break;
            times++;
            eventTime = column.role === 'ms' ? eventTimeFromMs(v) : eventTimeFromIso(v);
            break;
        }
      } catch (error) {
        if (error instanceof BadField) return `${column.name}: ${error.message}`;
        throw error;
      }
    }
    if (seen !== Object.keys(record).length) {
      const unknown = Object.keys(record).find((name) => !known.has(name));
      return `unknown field ${JSON.stringify(unknown)} (view ${view.name} has no such column)`;
    }
    const absent = view.joinKeys.find((_, j) => ids[j] === undefined);
    if (absent !== undefined) return `no ${absent.name}`;
    if (times > 1) return `give ${EVENT_TIME_MS} or ${EVENT_TIME}, not both`;
    return { ids, eventTime, values };
  };
}
