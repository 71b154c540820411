/**
 * `--entity 1,2 --entity 3` as the EntityKeys of a Predict request, for a
 * model whose views have one join key (ListModels names it and its type).
 */
export function entitiesFromFlags(
  model: string,
  keys: readonly { name: string; type: string }[],
  flags: readonly string[],
): { columns: { name: string; string_values?: string[]; int64_values?: string[] }[] } {
  const [key, ...more] = keys;
  if (key === undefined) {
    throw new Error(`model ${model} takes no entities: its model.json maps no inputs to features`);
  }
  if (more.length > 0) {
    const names = keys.map((k) => k.name).join(', ');
    throw new Error(`model ${model} reads entities by several join keys (${names}); call the API for those`);
  }
  const ids = flags.flatMap((f) => f.split(',')).map((v) => v.trim());
  if (key.type === 'string') return { columns: [{ name: key.name, string_values: ids }] };
  for (const id of ids) {
    if (!/^-?\d+$/.test(id)) throw new Error(`--entity: "${id}" is not an integer (${key.name} is int64)`);
  }
  return { columns: [{ name: key.name, int64_values: ids }] };
}
