import { open } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { InferCacheError } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import type { TraceMetrics } from '../ops/metrics.js';
import { keySampler } from './key_sampler.js';
import { LOOKUPS_LINE, TRACE_FORMAT } from './recorded_trace.js';
import { TraceWriter } from './trace_writer.js';
import type { L1Trace, Tally } from './traced_store.js';
import type { FrameKind } from './value_frame.js';

export interface TraceSettings {
  readonly path: string;
  /** Fraction of keys recorded (key_sampler.ts). */
  readonly sampleRate: number;
  readonly maxBytes: number;
}

/**
 * The L1 trace (format v1, read by recorded_trace.ts for `infercache
 * simulate --trace`): a header, then one line per lookup or store of a
 * sampled key, the key written as its 64-bit hash, never as itself (a key
 * ends with the hash of an entity id, which a list of ids would reverse):
 *
 *   # infercache trace v1 sample=0.01 started=2025-01-01T00:00:00.000Z
 *   p:00a1b2c3d4e5f607,412     a lookup L1 answered; the entry costs 412 bytes
 *   p:00a1b2c3d4e5f607         a lookup L1 missed
 *   +p:00a1b2c3d4e5f607,412    a value stored (how a key that missed gets its size)
 *   # lookups p=81234 f=0 e=0  the last line: every lookup made while recording, sampled or not
 *
 * The last line is written when recording ends (the file reached its
 * bound, or the sidecar stopped gracefully); a file without one was cut
 * short, and its replay is not corrected for sampling bias.
 */
export class TraceRecorder implements L1Trace {
  readonly sampled: (key: string) => bigint | undefined;
  readonly #writer: TraceWriter;
  readonly #records: TraceMetrics['records'];
  readonly #counters = new Map<string, { inc(): void }>();
  readonly #lookups: Record<FrameKind, Tally> = { p: { n: 0 }, f: { n: 0 }, e: { n: 0 } };

  constructor(file: Writable, settings: TraceSettings, metrics: TraceMetrics, log: Logger) {
    this.sampled = keySampler(settings.sampleRate);
    const { p, f, e } = this.#lookups;
    const lastLine = () => `${LOOKUPS_LINE} p=${p.n} f=${f.n} e=${e.n}\n`;
    this.#writer = new TraceWriter(
      file,
      settings.path,
      { maxBytes: settings.maxBytes, lastLine },
      metrics,
      log,
    );
    this.#records = metrics.records;
    this.#writer.append(
      `# ${TRACE_FORMAT} sample=${settings.sampleRate} started=${new Date().toISOString()}\n`,
    );
  }

  lookups(kind: FrameKind): Tally {
    return this.#lookups[kind];
  }

  lookup(kind: FrameKind, hash: bigint, bytes: number): void {
    const key = hex(hash);
    if (this.#writer.append(bytes > 0 ? `${kind}:${key},${bytes}\n` : `${kind}:${key}\n`))
      this.#count(kind, 'lookup');
  }

  store(kind: FrameKind, hash: bigint, bytes: number): void {
    if (bytes <= 0) return; // Nothing kept (a value the arena cannot encode).
    if (this.#writer.append(`+${kind}:${hex(hash)},${bytes}\n`)) this.#count(kind, 'store');
  }

  /** Writes what is buffered and closes the file. */
  close(): Promise<void> {
    return this.#writer.close();
  }

  #count(kind: FrameKind, op: 'lookup' | 'store'): void {
    const id = kind + op;
    let counter = this.#counters.get(id);
    if (counter === undefined) {
      counter = this.#records.labels(kind, op);
      this.#counters.set(id, counter);
    }
    counter.inc();
  }
}

/**
 * Opens (and truncates) the trace file and starts recording into it. A file
 * that cannot be opened is a configuration error, raised before serving.
 */
export async function openTrace(
  settings: TraceSettings,
  metrics: TraceMetrics,
  log: Logger,
): Promise<TraceRecorder> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(settings.path, 'w');
  } catch (error) {
    throw new InferCacheError(
      'E_CONFIG',
      `trace file ${settings.path} cannot be opened for writing: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return new TraceRecorder(handle.createWriteStream(), settings, metrics, log);
}

function hex(hash: bigint): string {
  return hash.toString(16).padStart(16, '0');
}
