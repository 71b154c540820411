/**
 * Invalidation scopes and the key segment their generations make. A scope
 * is "<kind>:<name>" (a whole model or view) or "<kind>:<name>@<version>"
 * (one model version). Every key carries the generations of its scopes, so
 * moving one on makes all its old keys unreachable at once: they are never
 * asked for again and expire. A model's scopes ("p:...") cover both its
 * predictions and its embeddings: both are what the model computes.
 */
export function modelScope(kind: 'p' | 'e', model: string): string {
  return `${kind}:${model}`;
}

export function versionScope(kind: 'p' | 'e', model: string, version: string): string {
  return `${kind}:${model}@${version}`;
}

export function viewScope(view: string): string {
  return `f:${view}`;
}

/** Each kind whose L1 entries a scope covers, with the key prefix they live under. */
export function scopeKinds(prefix: string, scope: string): ['p' | 'f' | 'e', string][] {
  if (scope.startsWith('f:')) return [['f', scopePrefix(prefix, scope)]];
  const rest = scope.slice(2);
  return [
    ['p', scopePrefix(prefix, `p:${rest}`)],
    ['e', scopePrefix(prefix, `e:${rest}`)],
  ];
}

/** The key prefix under which every L1 entry of `scope` lives (`{prefix}:p:iris:` or `{prefix}:p:iris:1:`). */
function scopePrefix(prefix: string, scope: string): string {
  const at = scope.indexOf('@');
  if (at === -1) return `${prefix}:${scope}:`;
  return `${prefix}:${scope.slice(0, at)}:${scope.slice(at + 1)}:`;
}
