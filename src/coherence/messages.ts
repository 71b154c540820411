/**
 * What the fleet tells itself over the bus. Small JSON bodies: a message
 * names what changed, never the data.
 * - keys: drop these L1 entries (rows written or invalidated)
 * - generation: a scope's generation moved on (a whole model, model version,
 *   view or embedding model invalidated); its old keys are unreachable
 * - version: a model's current version was chosen ('' = back to the newest)
 */
export type Change =
  | { readonly t: 'keys'; readonly keys: readonly string[] }
  | { readonly t: 'generation'; readonly scope: string; readonly generation: number }
  | { readonly t: 'version'; readonly model: string; readonly version: string };

/**
 * A change as it travels: which sidecar sent it (it applied the change
 * itself before announcing it, and skips its own echo) and when (for the
 * latency metric).
 */
export interface Envelope {
  readonly from: string;
  readonly at: number;
  readonly change: Change;
}

export function encodeEnvelope(from: string, change: Change, at: number): string {
  return JSON.stringify({ from, at, change } satisfies Envelope);
}

/** Undefined for anything that is not an envelope we understand (ignored, counted). */
export function decodeEnvelope(text: string): Envelope | undefined {
  try {
    const v = JSON.parse(text) as Envelope;
    const c = v?.change;
    if (typeof v?.at !== 'number' || typeof v.from !== 'string' || typeof c !== 'object' || c === null) {
      return undefined;
    }
    if (c.t === 'keys' && Array.isArray(c.keys) && c.keys.every((k) => typeof k === 'string')) return v;
    if (c.t === 'generation' && typeof c.scope === 'string' && Number.isSafeInteger(c.generation)) return v;
    if (c.t === 'version' && typeof c.model === 'string' && typeof c.version === 'string') return v;
    return undefined;
  } catch {
    return undefined;
  }
}

/** Stream entry ids ("ms-seq") in order. */
export function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am !== bm ? am - bm : as - bs;
}
