import { invalidArgument } from '../errors.js';
import type { PredictService, RowSource } from '../predict/service.js';
import type { HostTensor } from '../tensor/host_tensor.js';
import { fromWire, toWire, type WireTensor } from './tensor_mapping.js';

interface PredictRequestWire {
  model: string;
  version: string;
  inputs: Record<string, WireTensor>;
  cache: { bypass: boolean; no_store: boolean; max_age_ms: number } | null;
  typed_outputs: boolean;
}

const SOURCE_CODE: Record<RowSource, number> = { l1: 1, l2: 2, model: 3 };
const MAX_INPUTS = 1024;

/** Maps the wire request to the service call and back; validation of shapes lives in model/validate.ts. */
export function predictHandler(service: PredictService) {
  return async (request: unknown, deadline: number): Promise<unknown> => {
    const req = request as PredictRequestWire;
    if (req.model === '') throw invalidArgument('model is required');
    const names = Object.keys(req.inputs);
    if (names.length > MAX_INPUTS)
      throw invalidArgument(`${names.length} inputs given; at most ${MAX_INPUTS}`);
    const inputs = new Map<string, HostTensor>();
    for (const name of names) inputs.set(name, fromWire(`input "${name}"`, req.inputs[name] as WireTensor));
    const cache = req.cache ?? { bypass: false, no_store: false, max_age_ms: 0 };
    const result = await service.predict({
      model: req.model,
      version: req.version,
      inputs,
      cache: { bypass: cache.bypass, noStore: cache.no_store, maxAgeMs: cache.max_age_ms },
      deadline,
    });
    const outputs: Record<string, unknown> = {};
    for (const o of result.outputs) outputs[o.name] = toWire(o, req.typed_outputs);
    return {
      model: result.model,
      version: result.version,
      outputs,
      row_sources: result.rowSources.map((s) => SOURCE_CODE[s]),
      row_cached: result.rowCached,
    };
  };
}
