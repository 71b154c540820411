import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { InferCacheError } from '../errors.js';
import { type FeatureView, toFeatureView, type ViewDefaults } from './view.js';
import { viewsFileSchema } from './view_schema.js';

/**
 * Reads the feature views file (YAML or JSON; JSON is YAML too) and checks
 * it whole: a bad file is refused with every problem, each naming the view
 * and the field, so the sidecar exits at start rather than serving half a
 * schema.
 */
export async function loadFeatureViews(
  path: string,
  defaults: ViewDefaults,
): Promise<Map<string, FeatureView>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new InferCacheError('E_CONFIG', `feature views file ${path}: ${(error as Error).message}`);
  }
  return parseFeatureViews(text, path, defaults);
}

export function parseFeatureViews(
  text: string,
  where: string,
  defaults: ViewDefaults,
): Map<string, FeatureView> {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new InferCacheError(
      'E_CONFIG',
      `feature views file ${where}: not YAML or JSON: ${(error as Error).message}`,
    );
  }
  const parsed = viewsFileSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${describePath(raw, issue)}: ${issue.message}`);
    throw new InferCacheError(
      'E_CONFIG',
      `feature views file ${where} is invalid:\n  ${problems.join('\n  ')}`,
    );
  }
  return new Map(parsed.data.views.map((spec) => [spec.name, toFeatureView(spec, defaults)]));
}

/** `view "users": features[2] ("age").type` for a path like views.0.features.2.type. */
function describePath(raw: unknown, issue: z.core.$ZodIssue): string {
  const path = issue.path;
  if (path[0] !== 'views' || typeof path[1] !== 'number') return path.length === 0 ? 'file' : path.join('.');
  const view = (raw as { views?: { name?: unknown }[] }).views?.[path[1]];
  const label = typeof view?.name === 'string' ? `view "${view.name}"` : `views[${path[1]}]`;
  const rest: string[] = [];
  let node: unknown = view;
  for (const part of path.slice(2)) {
    node = (node as Record<string | number, unknown> | undefined)?.[part as string | number];
    const named = typeof (node as { name?: unknown } | undefined)?.name === 'string';
    rest.push(
      typeof part === 'number'
        ? `[${part}]${named ? ` ("${(node as { name: string }).name}")` : ''}`
        : `.${String(part)}`,
    );
  }
  return `${label}${rest.length > 0 ? `: ${rest.join('').replace(/^\./, '')}` : ''}`;
}
