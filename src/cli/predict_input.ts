import type { ModelInputInfo } from './client.js';

/**
 * Turns `--input name=1,2,3;4,5,6` (rows separated by ';') or a JSON object
 * of nested arrays into request tensors, taking dtype and shape from the
 * model's signature so a user types only numbers.
 */
export function tensorsFromFlags(specs: ModelInputInfo[], flags: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const flag of flags) {
    const eq = flag.indexOf('=');
    if (eq <= 0) throw new Error(`--input ${flag}: expected name=v1,v2,... (rows separated by ';')`);
    const name = flag.slice(0, eq);
    const rows = flag
      .slice(eq + 1)
      .split(';')
      .map((r) => r.split(',').map((v) => v.trim()));
    const spec = findSpec(specs, name);
    const nested = spec.dims.length <= 1 ? rows.flat() : rows;
    out[name] = tensorFromNested(spec, spec.dims.length === 0 ? nested[0] : nested);
  }
  return out;
}

export function tensorsFromJson(specs: ModelInputInfo[], json: string): Record<string, unknown> {
  const parsed: unknown = JSON.parse(json);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('--json: expected an object of input name -> nested array');
  }
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(parsed))
    out[name] = tensorFromNested(findSpec(specs, name), value);
  return out;
}

function findSpec(specs: ModelInputInfo[], name: string): ModelInputInfo {
  const spec = specs.find((s) => s.name === name);
  if (spec === undefined)
    throw new Error(`the model has no input "${name}" (inputs: ${specs.map((s) => s.name).join(', ')})`);
  return spec;
}

function tensorFromNested(spec: ModelInputInfo, value: unknown): Record<string, unknown> {
  const shape: number[] = [];
  for (let v = value; Array.isArray(v); v = v[0]) shape.push(v.length);
  const flat = (Array.isArray(value) ? value.flat(Number.POSITIVE_INFINITY) : [value]) as unknown[];
  const field = fieldFor(spec.dtype);
  const values = flat.map((v) =>
    field === 'string_data' ? Buffer.from(String(v)) : parseValue(String(v), field),
  );
  return { dtype: spec.dtype, shape, [field]: values };
}

function parseValue(text: string, field: string): number | string {
  if (field === 'int64_data' || field === 'uint64_data') return BigInt(text).toString();
  if (text === 'true') return 1;
  if (text === 'false') return 0;
  const n = Number(text);
  if (text === '' || (Number.isNaN(n) && text.toLowerCase() !== 'nan'))
    throw new Error(`not a number: "${text}"`);
  return n;
}

function fieldFor(dtype: number): string {
  switch (dtype) {
    case 1:
      return 'float_data';
    case 11:
      return 'double_data';
    case 7:
      return 'int64_data';
    case 12:
    case 13:
      return 'uint64_data';
    case 8:
      return 'string_data';
    default:
      return 'int32_data';
  }
}
