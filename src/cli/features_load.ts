import { loadConfig } from '../config/load.js';
import type { SettingName } from '../config/schema.js';
import { InferCacheError } from '../errors.js';
import { bulkLoad } from '../features/bulk_load.js';
import { eventTimeFromIso, eventTimeFromMs } from '../features/event_time.js';
import { putFeaturesRequest } from '../features/load_batch.js';
import { RedisRowSink } from '../features/redis_row_sink.js';
import { formatOf } from '../features/row_file.js';
import type { FeatureView } from '../features/view.js';
import type { RowSink } from '../features/write_queue.js';
import { connect } from './client.js';
import { openFeatureStore, viewNamed } from './feature_store.js';
import { countFlag } from './flags.js';
import { LoadProgressBar, summaryLine } from './load_report.js';

export interface LoadCommandOptions {
  redisUrl?: string;
  redisMode?: string;
  addr?: string;
  format: 'auto' | 'csv' | 'jsonl';
  batchSize: string;
  inFlight: string;
  eventTime: string;
  maxRejects?: string;
  timeoutMs: string;
}

/**
 * `infercache features load VIEW FILE`: loads a CSV or JSON-lines file into
 * a view, straight into Redis (keys, frames and the newer-wins rule of
 * PutFeatures, settings from the same config as `serve`) or, with --addr,
 * through a sidecar's PutFeatures. Ends with one summary line on stdout;
 * fails (exit 1) when the file or view is wrong, the target cannot be
 * reached, a write fails, or more rows than --max-rejects are rejected.
 */
export async function featuresLoadCommand(viewName: string, file: string, o: LoadCommandOptions) {
  const flags: Partial<Record<SettingName, string>> = {};
  if (o.redisUrl !== undefined) flags.redisUrl = o.redisUrl;
  if (o.redisMode !== undefined) flags.redisMode = o.redisMode;
  const config = loadConfig(flags);
  const view = await viewNamed(config, viewName);
  const timeoutMs = countFlag('--timeout-ms', o.timeoutMs);
  const options = {
    format: formatOf(file, o.format),
    batchSize: countFlag('--batch-size', o.batchSize),
    inFlight: countFlag('--in-flight', o.inFlight),
    eventTime: eventTimeOption(o.eventTime),
    maxRejects:
      o.maxRejects === undefined ? Number.POSITIVE_INFINITY : countFlag('--max-rejects', o.maxRejects, 0),
  };
  const target = o.addr === undefined ? await redisTarget() : await sidecarTarget(o.addr, view, timeoutMs);
  const bar = process.stderr.isTTY ? new LoadProgressBar(view.name) : undefined;
  let summary: Awaited<ReturnType<typeof bulkLoad>>;
  try {
    summary = await bulkLoad(view, file, target.sink, {
      ...options,
      ...(bar === undefined ? {} : { onProgress: (p) => bar.update(p) }),
    });
  } finally {
    bar?.stop();
    await target.close();
  }
  process.stdout.write(`${summaryLine(summary, file)}\n`);
  if (summary.failure !== undefined) {
    throw new InferCacheError(
      summary.failure.code,
      `${summary.failure.message}; the rows written so far stay, and loading the file again is safe`,
    );
  }

  async function redisTarget() {
    const store = await openFeatureStore(config, view, timeoutMs);
    return { sink: new RedisRowSink(view, store.reader, store.door), close: () => store.close() };
  }
}

async function sidecarTarget(addr: string, view: FeatureView, timeoutMs: number) {
  const client = connect(addr, timeoutMs);
  try {
    await client.ready(timeoutMs);
  } catch (error) {
    client.close();
    throw new InferCacheError(
      'E_UNAVAILABLE',
      `cannot reach the sidecar at ${addr}: ${(error as Error).message}`,
    );
  }
  const sink: RowSink = {
    async write(rows) {
      try {
        const reply = await client.putFeatures(putFeaturesRequest(view, rows));
        return { written: reply.written, skippedOlder: reply.skipped_older };
      } catch (error) {
        const e = error as { details?: string; message?: string };
        throw new InferCacheError('E_UNAVAILABLE', `PutFeatures at ${addr}: ${e.details ?? e.message}`);
      }
    },
  };
  return { sink, close: async () => client.close() };
}

/** --event-time: "now" (the start of the load), ms since the Unix epoch, or an ISO-8601 time. */
function eventTimeOption(text: string): number {
  if (text === 'now') return Date.now();
  try {
    return /^\d+$/.test(text) ? eventTimeFromMs(text) : eventTimeFromIso(text);
  } catch (error) {
    throw new InferCacheError('E_CONFIG', `--event-time ${(error as Error).message}, or "now"`);
  }
}
