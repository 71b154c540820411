import { InferCacheError } from '../errors.js';
import type { NamedTensor } from '../model/pool.js';
import type { ReadyVersion } from '../model/registry.js';
import type { RunQueue } from '../model/run_queue.js';
import { validateInputs } from '../model/validate.js';
import type { Metrics } from '../ops/metrics.js';
import { canonicalizeInPlace } from '../tensor/canonical.js';
import type { HostTensor } from '../tensor/host_tensor.js';
import { stackRows } from '../tensor/rows.js';

/** A request's inputs in the signature's order. */
export type Inputs = readonly (readonly [string, HostTensor])[];

export interface ModelRunDeps {
  readonly runs: RunQueue;
  readonly metrics: Metrics;
}

/**
 * The inputs checked against the version's signature, canonicalised and in
 * signature order (so the same inputs sent in any order hash alike), and
 * their row count.
 */
export function signatureInputs(
  mv: ReadyVersion,
  given: ReadonlyMap<string, HostTensor>,
  maxBatchRows: number,
): { rows: number; inputs: Inputs } {
  const rows = validateInputs(mv.name, mv.signature, given, { maxBatchRows });
  const inputs = mv.signature.inputs.map((s) => {
    const t = given.get(s.name) as HostTensor;
    canonicalizeInPlace(t);
    return [s.name, t] as const;
  });
  return { rows, inputs };
}

export function feedsOf(inputs: Inputs): NamedTensor[] {
  return inputs.map(([name, t]) => ({ name, ...t }));
}

/** The feeds of rows `list` of the inputs (each input's row views given); the inputs themselves when that is every row. */
export function feedsOfRows(
  inputs: Inputs,
  views: readonly Buffer[][],
  list: readonly number[],
  rows: number,
): NamedTensor[] {
  if (list.length === rows) return feedsOf(inputs);
  return inputs.map(([name, t], i) => ({
    name,
    ...stackRows(
      t.dtype,
      t.dims.slice(1),
      list.map((r) => (views[i] as Buffer[])[r] as Buffer),
    ),
  }));
}

/** One model run; with `rows` set, every output must have that many rows. */
export async function runModel(
  deps: ModelRunDeps,
  mv: ReadyVersion,
  feeds: NamedTensor[],
  rows: number | undefined,
  req: { readonly deadline: number; readonly signal: AbortSignal },
): Promise<NamedTensor[]> {
  const outputs = await deps.runs.run({
    model: mv.name,
    path: mv.path,
    sessionKey: mv.sessionKey,
    feeds,
    outputNames: mv.signature.outputs.map((o) => o.name),
    deadline: req.deadline,
    signal: req.signal,
    runtimeChecksInput: mv.signature.inputs.some((s) => s.dims === undefined),
    ...(rows === undefined ? {} : { rows }),
    ...(mv.metadata.batching === undefined ? {} : { batch: mv.metadata.batching }),
  });
  if (rows !== undefined) {
    for (const o of outputs) {
      if (o.dims[0] !== rows) {
        throw new InferCacheError(
          'E_INFERENCE_FAILED',
          `model ${mv.name}:${mv.version} output "${o.name}" has ${o.dims[0]} rows for ${rows} input rows; ` +
            'set "rowCacheable": false in its model.json',
        );
      }
    }
  }
  return outputs;
}
