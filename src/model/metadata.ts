import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/**
 * A feature's value to use when an entity has none (null, not found, or
 * older than its view's max_age): a number, a boolean, a string (also an
 * int64 as decimal text) or, for a float32_vector, an array of its `dim`
 * numbers; null means no default. Checked against the feature's type when
 * the sidecar loads the model, since only then are the views known.
 */
const defaultValue = z.union([
  z.number(),
  z.boolean(),
  z.string().max(65_536),
  z.array(z.number()).max(65_536),
  z.null(),
]);

const FEATURE_REF = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}:[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

/**
 * One model input fed from features: their values, in this order and
 * concatenated, fill the input's row of each entity.
 */
const entityInput = z
  .object({
    features: z.array(z.string().regex(FEATURE_REF, 'expected "view:feature"')).min(1).max(1000),
    // One per feature, in the same order.
    defaults: z.array(defaultValue).max(1000).optional(),
  })
  .strict()
  .superRefine((input, ctx) => {
    if (input.defaults !== undefined && input.defaults.length !== input.features.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['defaults'],
        message: `${input.defaults.length} defaults for ${input.features.length} features; give one per feature (null for none)`,
      });
    }
  });

/**
 * GetEmbeddings: which output holds the vectors (one float32 row of a fixed
 * dimension per input row; default: the model's only output) and how the
 * cache stores them (float16 halves the bytes, see tensor/float16.ts).
 */
const embedding = z
  .object({
    output: z.string().min(1).max(256).optional(),
    storeAs: z.enum(['float32', 'float16']).default('float32'),
  })
  .strict();

/**
 * Micro-batching of this model, where it should differ from the sidecar's
 * defaults (INFERCACHE_BATCH_MAX_ROWS, INFERCACHE_BATCH_MAX_DELAY_US): a
 * model whose run costs little per row, or a lot, may want its own.
 */
const batching = z
  .object({
    maxRows: z.number().int().min(1).max(1_000_000).optional(),
    maxDelayUs: z.number().int().min(0).max(1_000_000).optional(),
  })
  .strict()
  .transform((b) => ({
    ...(b.maxRows === undefined ? {} : { maxRows: b.maxRows }),
    ...(b.maxDelayUs === undefined ? {} : { maxDelayMs: b.maxDelayUs / 1000 }),
  }));

/** Optional `model.json` beside a model.onnx; a dropped-in model needs none. */
const MetadataSchema = z
  .object({
    description: z.string().max(1000).default(''),
    labels: z.array(z.string().max(200)).max(100_000).default([]),
    // Set false for a model whose rows influence each other (e.g. it
    // normalises over the batch): its requests are then cached whole.
    rowCacheable: z.boolean().default(true),
    // Predict by entity: model input name -> the features that fill it.
    entityInputs: z.record(z.string().min(1).max(256), entityInput).optional(),
    embedding: embedding.optional(),
    batching: batching.optional(),
  })
  .strict();

export type ModelMetadata = z.infer<typeof MetadataSchema>;
export type EntityInputSpec = z.infer<typeof entityInput>;

export async function readMetadata(path: string): Promise<ModelMetadata> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return MetadataSchema.parse({});
    throw error;
  }
  const parsed = MetadataSchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new Error(
      `${path}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}
