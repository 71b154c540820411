import { z } from 'zod';

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
const name = z
  .string()
  .regex(NAME, 'expected a name of letters, digits, _ . - (at most 64, not starting with a digit)')
  // A row is stored as a map from feature name to value, and msgpack and
  // JSON decoders give this one key special meaning: its value would be lost.
  .refine((n) => n !== '__proto__', 'the name __proto__ is reserved');

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration: milliseconds as a number, or "250ms", "30s", "5m", "24h", "7d". */
const duration = z.union([z.number().int().positive(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(v.trim());
  const ms = m === null ? 0 : Math.round(Number(m[1]) * (UNITS[m[2] as string] as number));
  // "0s" is refused as the number 0 is: a lifetime of 0 would mean "forever" to L1.
  if (ms < 1) {
    ctx.addIssue({
      code: 'custom',
      message: 'expected a duration such as 250ms, 30s, 5m, 24h or 7d (at least 1ms)',
    });
    return z.NEVER;
  }
  return ms;
});

export const FEATURE_TYPES = [
  'float32',
  'float64',
  'int32',
  'int64',
  'bool',
  'string',
  'bytes',
  'float32_vector',
] as const;

const feature = z
  .object({
    name,
    type: z.enum(FEATURE_TYPES),
    // Vectors only: their fixed dimension.
    dim: z.number().int().min(1).max(65_536).optional(),
  })
  .strict()
  .superRefine((f, ctx) => {
    if (f.type === 'float32_vector' && f.dim === undefined) {
      ctx.addIssue({ code: 'custom', path: ['dim'], message: 'a float32_vector needs its dimension (dim)' });
    }
    if (f.type !== 'float32_vector' && f.dim !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['dim'], message: 'only a float32_vector has a dimension' });
    }
  });

const origin = z
  .object({
    // An HTTP(S) endpoint taking a batch of entity keys (see features/origin.ts).
    url: z.string().refine(isHttpUrl, 'expected an http:// or https:// URL'),
    timeout: duration.default(500),
    // Requests to the origin in flight at once, per view.
    concurrency: z.number().int().min(1).max(1024).default(4),
    // Entities per request to the origin.
    max_batch: z.number().int().min(1).max(100_000).default(1000),
    // When the origin fails, serve a stored row that is past max_age (marked
    // STALE) instead of failing the call, if it is within stale_grace.
    serve_stale_on_error: z.boolean().default(true),
    // How far past max_age a stored row may still be served on the origin's
    // failure; by default as long as Redis keeps it (ttl - max_age).
    stale_grace: duration.optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.stale_grace !== undefined && !o.serve_stale_on_error) {
      ctx.addIssue({
        code: 'custom',
        path: ['stale_grace'],
        message: 'has no effect with serve_stale_on_error: false',
      });
    }
  });

function isHttpUrl(text: string): boolean {
  try {
    const { protocol } = new URL(text);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}

export const viewSchema = z
  .object({
    name,
    entities: z
      .array(z.object({ name, type: z.enum(['string', 'int64']) }).strict())
      .min(1, 'a view needs at least one join key')
      .max(8),
    features: z.array(feature).min(1, 'a view needs at least one feature').max(1000),
    // A row older than this (by its event time) is served as OUTSIDE_MAX_AGE.
    max_age: duration,
    // How long Redis keeps a row; by default max_age plus a grace of max_age
    // (or of origin.stale_grace when longer), so a row too old to be fresh is
    // still told apart from a missing one, and can be served stale.
    ttl: duration.optional(),
    // How long an entity found nowhere is remembered as NOT_FOUND (L1 only).
    not_found_ttl: duration.optional(),
    origin: origin.optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.ttl !== undefined && v.ttl <= v.max_age) {
      ctx.addIssue({
        code: 'custom',
        path: ['ttl'],
        message: `must be longer than max_age (${v.max_age} ms)`,
      });
    }
    const grace = v.origin?.stale_grace;
    if (v.ttl !== undefined && grace !== undefined && v.ttl > v.max_age && v.ttl - v.max_age < grace) {
      ctx.addIssue({
        code: 'custom',
        path: ['origin', 'stale_grace'],
        message: `at most ttl - max_age (${v.ttl - v.max_age} ms): a row gone from Redis cannot be served stale`,
      });
    }
    duplicates(v.features, 'features', ctx);
    duplicates(v.entities, 'entities', ctx);
  });

/** A problem reported at `field[i].name` for each name declared again after `field[first]`. */
function duplicates(list: readonly { name: string }[], field: string, ctx: z.RefinementCtx): void {
  const first = new Map<string, number>();
  list.forEach((item, i) => {
    const at = first.get(item.name);
    if (at === undefined) first.set(item.name, i);
    else
      ctx.addIssue({
        code: 'custom',
        path: [field, i, 'name'],
        message: `"${item.name}" is declared twice (first at ${field}[${at}])`,
      });
  });
}

export const viewsFileSchema = z
  .object({ views: z.array(viewSchema).max(1000) })
  .strict()
  .superRefine((file, ctx) => duplicates(file.views, 'views', ctx));

export type ViewSpec = z.infer<typeof viewSchema>;
export type FeatureTypeName = (typeof FEATURE_TYPES)[number];
