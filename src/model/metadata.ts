import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/** Optional `model.json` beside a model.onnx; a dropped-in model needs none. */
const MetadataSchema = z
  .object({
    description: z.string().max(1000).default(''),
    labels: z.array(z.string().max(200)).max(100_000).default([]),
    // Set false for a model whose rows influence each other (e.g. it
    // normalises over the batch): its requests are then cached whole.
    rowCacheable: z.boolean().default(true),
  })
  .strict();

export type ModelMetadata = z.infer<typeof MetadataSchema>;

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
