import type { FeatureRow, FeatureValue } from './feature_row.js';
import { checkValue } from './feature_row.js';
import type { FeatureView, OriginSpec } from './view.js';

/** Why an origin call gave no rows. */
export class OriginError extends Error {
  readonly reason: 'timeout' | 'http' | 'malformed' | 'unreachable' | 'cancelled';
  constructor(reason: OriginError['reason'], message: string) {
    super(message);
    this.name = 'OriginError';
    this.reason = reason;
  }
}

/** What an origin answered for one entity: its row, undefined (not found), or why there is none. */
export type OriginAnswer = FeatureRow | undefined | OriginError;

/** What an origin observes, for metrics. */
export type OriginObserver = (
  view: string,
  outcome: 'ok' | OriginError['reason'],
  seconds: number,
  entities: number,
) => void;

// Bounds on an origin's answer: it is another service's output, and it is
// parsed on our event loop, which holds every other call meanwhile
// (JSON.parse of 64 MiB of rows took 3.1 s here, 16 MiB 0.7 to 1 s, on two
// busy cores). Counted as the body arrives: a chunked answer has no length.
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

interface Waiter {
  readonly grant: () => void;
}

/**
 * The HTTP origin of one view, called only for rows no tier has. Protocol:
 *   POST <url>  {"view": "<name>", "entities": [{"<join key>": <value>, ...}, ...]}
 *   200         {"rows": [<row> | null, ...]}   one per entity, in order
 *   <row>     = {"event_time_ms": <number>, "features": {"<name>": <value>, ...}}
 * int64 keys and values are JSON numbers where exact, else decimal strings;
 * bytes are base64 strings; vectors arrays of numbers; null or a missing
 * feature is a null value; a null row is "not found". Requests are sent in
 * batches of at most max_batch entities, at most `concurrency` at a time,
 * each with the view's timeout.
 */
export class Origin {
  readonly #view: FeatureView;
  readonly #spec: OriginSpec;
  readonly #observe: OriginObserver;
  #active = 0;
  readonly #waiting: Waiter[] = [];

  constructor(view: FeatureView, spec: OriginSpec, observe: OriginObserver) {
    this.#view = view;
    this.#spec = spec;
    this.#observe = observe;
  }

  /**
   * Per entity, its row (undefined: not found), or the OriginError of the
   * request that carried it: one request failing (a timeout, an HTTP error)
   * takes only its own max_batch entities down, not the others', so a
   * caller can fall back row by row. Rejects only on what is not an
   * origin's failure (a bug).
   */
  async fetch(
    entities: readonly (string | bigint)[][],
    signal: AbortSignal,
    now: number,
  ): Promise<OriginAnswer[]> {
    const batches: Promise<OriginAnswer[]>[] = [];
    for (let at = 0; at < entities.length; at += this.#spec.maxBatch) {
      const batch = entities.slice(at, at + this.#spec.maxBatch);
      batches.push(
        this.#limited(() => this.#call(batch, signal, now), signal).catch((error: unknown) => {
          if (!(error instanceof OriginError)) throw error;
          return batch.map(() => error);
        }),
      );
    }
    return (await Promise.all(batches)).flat();
  }

  /** Whether every slot is taken or called for: a request made now would wait. */
  get saturated(): boolean {
    return this.#active >= this.#spec.concurrency || this.#waiting.length > 0;
  }

  async #limited<T>(run: () => Promise<T>, signal: AbortSignal): Promise<T> {
    await this.#slot(signal);
    try {
      return await run();
    } finally {
      this.#release();
    }
  }

  /**
   * One of the view's `concurrency` slots, first come first served. A call
   * that ends (its deadline, a cancel) while it waits leaves the queue at
   * once rather than wait behind a slow origin for a slot it no longer needs.
   */
  #slot(signal: AbortSignal): Promise<void> {
    if (this.#active < this.#spec.concurrency) {
      this.#active++;
      return Promise.resolve();
    }
    const ended = () =>
      new OriginError(
        'cancelled',
        `origin of view ${this.#view.name}: the call ended while waiting for its turn`,
      );
    if (signal.aborted) return Promise.reject(ended());
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const at = this.#waiting.indexOf(waiter);
        if (at !== -1) this.#waiting.splice(at, 1);
        reject(ended());
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  /** Hands the slot straight to the first waiter, so no newcomer can take it in between. */
  #release(): void {
    const next = this.#waiting.shift();
    if (next === undefined) this.#active--;
    else next.grant();
  }

  async #call(
    entities: readonly (string | bigint)[][],
    signal: AbortSignal,
    now: number,
  ): Promise<(FeatureRow | undefined)[]> {
    const started = performance.now();
    const done = (outcome: 'ok' | OriginError['reason']) =>
      this.#observe(this.#view.name, outcome, (performance.now() - started) / 1000, entities.length);
    const body = JSON.stringify({
      view: this.#view.name,
      entities: entities.map((values) =>
        Object.fromEntries(
          this.#view.joinKeys.map((k, i) => [k.name, jsonValue(values[i] as string | bigint)]),
        ),
      ),
    });
    let response: Response;
    try {
      response = await fetch(this.#spec.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.#spec.timeoutMs)]),
      });
    } catch (error) {
      const reason = signal.aborted
        ? 'cancelled'
        : (error as Error).name === 'TimeoutError'
          ? 'timeout'
          : 'unreachable';
      done(reason);
      throw new OriginError(
        reason,
        `origin of view ${this.#view.name}: ${reason === 'timeout' ? `no answer within ${this.#spec.timeoutMs} ms` : (error as Error).message}`,
      );
    }
    let rows: (FeatureRow | undefined)[];
    try {
      if (!response.ok) {
        // Not read: give the connection back rather than leave the body pending.
        await response.body?.cancel().catch(() => undefined);
        done('http');
        throw new OriginError('http', `origin of view ${this.#view.name} answered HTTP ${response.status}`);
      }
      rows = this.#rows(JSON.parse(await readCapped(response, MAX_RESPONSE_BYTES)), entities.length, now);
    } catch (error) {
      if (error instanceof OriginError && error.reason === 'http') throw error;
      const timedOut = (error as Error).name === 'TimeoutError';
      const reason = signal.aborted ? 'cancelled' : timedOut ? 'timeout' : 'malformed';
      done(reason);
      throw new OriginError(
        reason,
        `origin of view ${this.#view.name}: ${(error as Error).message.slice(0, 200)}`,
      );
    }
    done('ok');
    return rows;
  }

  #rows(json: unknown, expected: number, now: number): (FeatureRow | undefined)[] {
    const rows = (json as { rows?: unknown } | null)?.rows;
    if (!Array.isArray(rows) || rows.length !== expected) {
      throw new OriginError('malformed', `expected {"rows": [...]} with ${expected} entries`);
    }
    return rows.map((row, i) => {
      if (row === null) return undefined;
      const r = row as { event_time_ms?: unknown; features?: unknown };
      // A number, as PutFeatures takes it: "", null or true would read as 0 or 1.
      const eventTime = r.event_time_ms;
      if (typeof eventTime !== 'number' || !Number.isFinite(eventTime) || eventTime <= 0)
        throw new OriginError('malformed', `row ${i}: bad event_time_ms`);
      if (typeof r.features !== 'object' || r.features === null || Array.isArray(r.features))
        throw new OriginError('malformed', `row ${i}: no features`);
      const features = r.features as Record<string, unknown>;
      const values: FeatureValue[] = this.#view.features.map((spec) => {
        try {
          // Own keys only: a feature named "constructor" left out is null, not Object's.
          const raw = Object.hasOwn(features, spec.name) ? features[spec.name] : null;
          return checkValue(spec, fromJson(spec.type, raw));
        } catch {
          throw new OriginError('malformed', `row ${i}: feature "${spec.name}" is not ${spec.type}`);
        }
      });
      return { eventTime, values, writtenAt: now };
    });
  }
}

/** The body as text, refused past `max` bytes whether or not the answer declared its length. */
async function readCapped(response: Response, max: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > max) {
    await response.body?.cancel().catch(() => undefined);
    throw new OriginError('malformed', `answer of ${declared} bytes; at most ${max}`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  // Leaving the loop early (too large, aborted) cancels the body.
  for await (const chunk of response.body ?? []) {
    size += chunk.byteLength;
    if (size > max) throw new OriginError('malformed', `answer longer than ${max} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

function jsonValue(v: string | bigint): string | number {
  if (typeof v === 'string') return v;
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(v)
    : v.toString();
}

/** A JSON value as the row codec holds it (base64 to bytes, arrays to vector bytes, int64 strings to bigint). */
function fromJson(type: string, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (type === 'bytes' && typeof v === 'string') return Buffer.from(v, 'base64');
  if (type === 'int64' && typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  if (type === 'float32_vector' && Array.isArray(v) && v.every((x) => typeof x === 'number')) {
    const f = Float32Array.from(v as number[]);
    return new Uint8Array(f.buffer);
  }
  return v;
}
