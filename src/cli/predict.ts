import { connect } from './client.js';
import { entitiesFromFlags } from './predict_entities.js';
import { tensorsFromFlags, tensorsFromJson } from './predict_input.js';

export interface PredictOptions {
  addr: string;
  model: string;
  version?: string;
  input: string[];
  json?: string;
  entity: string[];
  bypass?: boolean;
  noStore?: boolean;
  maxAgeMs?: string;
  output: 'text' | 'json';
  timeoutMs: string;
}

const SOURCES = ['?', 'l1', 'l2', 'model', 'none'];
const STATUSES = ['?', 'ok', 'entity_not_found', 'feature_missing'];

/** `infercache predict`: one Predict call; prints outputs and where each row came from. */
export async function predictCommand(o: PredictOptions): Promise<void> {
  const client = connect(o.addr, Number(o.timeoutMs));
  try {
    const { models } = await client.listModels();
    const model = models.find((m) => m.name === o.model);
    if (model === undefined)
      throw new Error(`unknown model "${o.model}" (loaded: ${models.map((m) => m.name).join(', ')})`);
    const version = model.versions.find((v) => v.version === (o.version || model.current_version));
    if (version === undefined) throw new Error(`model ${o.model} has no version "${o.version}"`);
    const byEntity = o.entity.length > 0;
    if (byEntity && (o.input.length > 0 || o.json !== undefined)) {
      throw new Error('give --entity or --input/--json, not both');
    }
    const entities = byEntity ? entitiesFromFlags(o.model, version.entity_keys, o.entity) : undefined;
    const data = entities
      ? { entities }
      : {
          inputs:
            o.json !== undefined
              ? tensorsFromJson(version.inputs, o.json)
              : tensorsFromFlags(version.inputs, o.input),
        };
    const reply = await client.predict<PredictReply>({
      model: o.model,
      version: o.version ?? '',
      ...data,
      cache: { bypass: !!o.bypass, no_store: !!o.noStore, max_age_ms: Number(o.maxAgeMs ?? 0) },
      typed_outputs: true,
    });
    const rendered = render(reply, model.labels);
    process.stdout.write(
      o.output === 'json' ? `${JSON.stringify(rendered)}\n` : text(rendered, entities && idLabels(entities)),
    );
  } finally {
    client.close();
  }
}

interface PredictReply {
  model: string;
  version: string;
  row_cached: boolean;
  row_sources: number[];
  row_statuses: number[];
  outputs: Record<string, { shape: string[]; [field: string]: unknown }>;
}

function render(reply: PredictReply, labels: string[]) {
  const outputs: Record<string, { shape: number[]; values: unknown[] }> = {};
  for (const [name, t] of Object.entries(reply.outputs)) {
    const values =
      ['float_data', 'double_data', 'int32_data', 'int64_data', 'uint64_data', 'string_data']
        .map((f) => t[f] as unknown[])
        .find((v) => v.length > 0) ?? [];
    outputs[name] = {
      shape: t.shape.map(Number),
      values: values.map(displayValue),
    };
  }
  return {
    model: reply.model,
    version: reply.version,
    rowCached: reply.row_cached,
    sources: reply.row_sources.map((s) => SOURCES[s] ?? '?'),
    // Predict by entity only: what became of each entity's row.
    ...(reply.row_statuses.length > 0 ? { statuses: reply.row_statuses.map((s) => STATUSES[s] ?? '?') } : {}),
    outputs,
    labels,
  };
}

/** `flower_id=1` for each entity row. */
function idLabels(entities: ReturnType<typeof entitiesFromFlags>): string[] {
  const column = entities.columns[0];
  return (column?.int64_values ?? column?.string_values ?? []).map((v) => `${column?.name}=${v}`);
}

/** One line per row; by entity, each row also shows its entity and status. */
function text(r: ReturnType<typeof render>, ids?: string[]): string {
  const lines = [
    `model ${r.model} version ${r.version}${r.rowCached ? '' : ' (cached as one whole request)'}`,
  ];
  const rows = r.sources.length;
  // By entity, the outputs have one row per entity even for a model cached whole.
  const byRow = r.rowCached || r.statuses !== undefined;
  r.sources.forEach((source, i) => {
    const status = r.statuses?.[i];
    const entity = ids?.[i] === undefined ? '' : `${ids[i]} `;
    if (status !== undefined && status !== 'ok') {
      lines.push(`row ${i} [${source}] ${entity}${status}`);
      return;
    }
    const parts = Object.entries(r.outputs).map(([name, o]) => {
      const per = rows > 0 && byRow ? o.values.length / rows : o.values.length;
      const slice = byRow ? o.values.slice(i * per, (i + 1) * per) : o.values;
      const shown = slice.map((v) => (typeof v === 'number' ? Number(v.toPrecision(6)) : v));
      const label = name === 'label' && r.labels.length > 0 ? ` (${r.labels[Number(shown[0])] ?? '?'})` : '';
      return `${name}=${JSON.stringify(shown)}${label}`;
    });
    lines.push(`row ${i} [${source}] ${entity}${status === undefined ? '' : 'ok '}${parts.join(' ')}`);
  });
  return `${lines.join('\n')}\n`;
}

/** int64 values arrive as strings (exact); show them as numbers where that is still exact. */
function displayValue(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (typeof v === 'string' && Number.isSafeInteger(Number(v))) return Number(v);
  return v;
}
