import cliProgress from 'cli-progress';
import { loadConfig } from '../config/load.js';
import { InferCacheError } from '../errors.js';
import { entityColumns } from '../features/load_batch.js';
import { connect } from './client.js';
import { viewNamed } from './feature_store.js';
import { parseId } from './features_get.js';
import { countFlag } from './flags.js';

export interface WarmCommandOptions {
  top?: string;
  addr: string;
  timeoutMs: string;
}

/** infercache.v1.WarmProgress as the client decodes it (uint64 as decimal strings). */
interface WarmProgressReply {
  rows_done: string;
  rows_total: string;
  rows_failed: string;
  seconds: number;
  done: boolean;
  /** "fleet" or "local" for a warm of the most popular; "" for entities given. */
  ranking: string;
}

const RANKINGS: Record<string, string> = {
  fleet: '; top of the fleet ranking',
  local: "; top of the sidecar's own ranking (it has no Redis)",
};

// Long enough for a sidecar still starting (it binds its port before warming itself).
const CONNECT_MS = 10_000;

/**
 * `infercache warm VIEW [ID...] [--top N]`: one Warm call, for the entities
 * given (join keys from the views file of the config, as `features get`) or
 * the N most popular (the fleet's ranking, or a sidecar without Redis its
 * own). A progress bar on a terminal (stderr), one summary line on stdout,
 * which names the ranking a --top warm read. Ctrl-C cancels the call, which stops the warming
 * between batches; the rows warmed by then stay warm.
 */
export async function warmCommand(viewName: string, ids: string[], o: WarmCommandOptions): Promise<void> {
  const top = o.top === undefined ? 0 : countFlag('--top', o.top, 1);
  if (ids.length > 0 === top > 0) {
    throw new InferCacheError(
      'E_INVALID_ARGUMENT',
      'give entity ids, or --top N (the most popular), not both',
    );
  }
  const entities =
    ids.length === 0
      ? null
      : await viewNamed(loadConfig({}), viewName).then((view) => ({
          columns: entityColumns(
            view,
            ids.map((id) => ({ ids: parseId(view, id), eventTime: 0, values: [] })),
          ),
        }));
  const timeoutMs = countFlag('--timeout-ms', o.timeoutMs, 0);
  const client = connect(o.addr, CONNECT_MS);
  try {
    await client.ready(CONNECT_MS).catch((error: Error) => {
      throw new InferCacheError('E_UNAVAILABLE', `cannot reach the sidecar at ${o.addr}: ${error.message}`);
    });
    const call = client.stream('Warm', { view: viewName, entities, top }, timeoutMs || undefined);
    const bar = process.stderr.isTTY ? new WarmProgressBar(viewName) : undefined;
    let last: WarmProgressReply | undefined;
    let interrupted = false;
    const onSigint = () => {
      interrupted = true;
      call.cancel();
    };
    process.once('SIGINT', onSigint);
    try {
      await new Promise<void>((resolve, reject) => {
        call.on('data', (p: WarmProgressReply) => {
          last = p;
          bar?.update(p);
        });
        call.on('end', resolve);
        call.on('error', reject);
      });
    } catch (error) {
      const so = last === undefined ? '' : ` after ${last.rows_done} of ${last.rows_total} rows`;
      if (interrupted) {
        throw new InferCacheError(
          'E_CANCELLED',
          `warming cancelled (Ctrl-C)${so}; the rows warmed so far stay warm`,
        );
      }
      const e = error as { details?: string; message?: string };
      throw new InferCacheError('E_UNAVAILABLE', `Warm at ${o.addr}${so}: ${e.details ?? e.message}`);
    } finally {
      process.off('SIGINT', onSigint);
      bar?.stop();
    }
    const p = last ?? {
      rows_done: '0',
      rows_total: '0',
      rows_failed: '0',
      seconds: 0,
      done: true,
      ranking: '',
    };
    process.stdout.write(
      `${viewName}: warmed ${p.rows_done} of ${p.rows_total} rows, failed ${p.rows_failed}; ` +
        `${p.seconds.toFixed(2)} s${RANKINGS[p.ranking] ?? ''}\n`,
    );
    if (p.rows_failed !== '0') {
      throw new InferCacheError(
        'E_UNAVAILABLE',
        `${p.rows_failed} rows could not be warmed (the sidecar's log says why)`,
      );
    }
  } finally {
    client.close();
  }
}

/** Rows warmed of the total, on stderr, for a terminal only (cli-progress redraws in place). */
class WarmProgressBar {
  readonly #bar = new cliProgress.SingleBar(
    {
      format: '{view} [{bar}] {percentage}% | {value}/{total} rows | {rate} rows/s',
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  readonly #view: string;
  #running = false;

  constructor(view: string) {
    this.#view = view;
  }

  update(p: WarmProgressReply): void {
    const done = Number(p.rows_done);
    const payload = { view: this.#view, rate: Math.round(done / Math.max(p.seconds, 1e-3)) };
    if (!this.#running) {
      this.#running = true;
      this.#bar.start(Math.max(Number(p.rows_total), 1), 0, payload);
    }
    this.#bar.update(done, payload);
  }

  stop(): void {
    if (this.#running) this.#bar.stop();
    this.#running = false;
  }
}
