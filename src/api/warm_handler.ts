import type * as grpc from '@grpc/grpc-js';
import { InferCacheError, invalidArgument, quote } from '../errors.js';
import type { EntityColumnWire } from '../features/entity_keys.js';
import { entityRows } from '../features/entity_keys.js';
import type { FeatureView } from '../features/view.js';
import type { Logger } from '../ops/logger.js';
import type { EntityValues } from '../warming/popularity.js';
import type { RankingUsed, Warmer } from '../warming/warmer.js';
import { refusal } from './refusal.js';
import { toServiceError } from './status.js';
import { decodeBounded } from './wire/bounded_decode.js';

interface WarmWire {
  view: string;
  entities: { columns: EntityColumnWire[] } | null;
  top: number;
}

export interface WarmDeps {
  readonly warmer: Warmer;
  readonly views: () => ReadonlyMap<string, FeatureView>;
  readonly maxEntityRows: number;
  readonly log: Logger;
}

/**
 * Warm: streams one progress message per batch, the last with done set.
 * Cancelling the call (or its deadline) stops the warming between batches.
 * A warm of the `top` most popular says which ranking it read (`ranking`:
 * the fleet's, or without Redis the sidecar's own), in every message and
 * in one log line.
 */
export function warmHandler(deps: WarmDeps): grpc.handleServerStreamingCall<Buffer, unknown> {
  return (call) => {
    const controller = new AbortController();
    call.on('cancelled', () =>
      controller.abort(new InferCacheError('E_CANCELLED', 'the call was cancelled')),
    );
    run(deps, call.request, controller.signal, (p) => call.write(p)).then(
      (last) => {
        call.write({ ...last, done: true });
        call.end();
      },
      (error: unknown) => {
        const status = toServiceError(refusal('Warm', error));
        if (status.code === 13) deps.log.error({ err: error }, 'Warm failed');
        call.emit('error', status);
      },
    );
  };
}

type Progress = {
  rows_done: number;
  rows_total: number;
  rows_failed: number;
  seconds: number;
  ranking: RankingUsed | '';
};

async function run(
  deps: WarmDeps,
  bytes: Buffer,
  signal: AbortSignal,
  send: (p: Progress) => void,
): Promise<Progress> {
  const req = decodeBounded<WarmWire>('infercache.v1.WarmRequest', bytes);
  const view = deps.views().get(req.view);
  if (view === undefined) throw invalidArgument(`view: unknown view ${quote(req.view)}`);
  let entities: EntityValues[];
  let ranking: RankingUsed | '' = '';
  const columns = req.entities?.columns ?? [];
  if (columns.length > 0) {
    const rows = entityRows(view.joinKeys, columns, deps.maxEntityRows);
    entities = Array.from({ length: rows.count }, (_, i) => rows.values(i));
  } else {
    if (req.top <= 0) throw invalidArgument('give entities, or top: how many of the most popular to warm');
    ({ entities, ranking } = await deps.warmer.popular(view, Math.min(req.top, deps.maxEntityRows)));
    deps.log.info(
      { view: view.name, top: req.top, ranking, entities: entities.length },
      'Warm of the most popular entities',
    );
  }
  const wire = (p: { done: number; total: number; failed: number; seconds: number }): Progress => ({
    rows_done: p.done,
    rows_total: p.total,
    rows_failed: p.failed,
    seconds: p.seconds,
    ranking,
  });
  const last = await deps.warmer.warm(view, entities, 'request', signal, (p) => send(wire(p)));
  return wire(last);
}
