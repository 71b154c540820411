import { readFileSync } from 'node:fs';
import { mulberry32 } from '../prng.js';
import { isRecorded, type Recorded, recordedTrace } from './recorded_trace.js';
import type { FrameKind } from './value_frame.js';

/**
 * An access trace: the key of each access (as a small integer) and the
 * bytes each key costs in L1. Integers, not strings, so a trace of millions
 * of accesses fits in a few typed arrays.
 */
export interface Trace {
  readonly name: string;
  readonly keys: Int32Array;
  /** L1 cost of key `id`; the same on every access to it. */
  readonly sizes: Int32Array;
  /**
   * The fraction of the traffic's keys the trace holds, when it was sampled
   * by key (a recorded trace): the simulator replays it in an L1 of that
   * fraction of each size (SHARDS).
   */
  readonly sampleRate?: number;
  /**
   * The accesses of the whole traffic over the time a sampled trace was
   * drawn from, its keys and the others: a replay corrects with it for the
   * share of hot keys its sample happened to take (SHARDS-adj).
   */
  readonly fullAccesses?: number;
  /** What the sidecar that recorded the trace saw. */
  readonly recorded?: Recorded;
}

export interface SyntheticOptions {
  /** Distinct keys the popular part draws from. */
  readonly keys: number;
  readonly accesses: number;
  /** L1 cost of every key. */
  readonly entryBytes: number;
  readonly seed: number;
  /** Only the lookups of this kind, of a trace the sidecar recorded. */
  readonly kind?: FrameKind;
}

/**
 * A trace by name:
 *   zipf:S        Zipf(S) over `keys` keys
 *   scan:S        Zipf(S), and every 10·keys/100 accesses a scan of keys/10 keys used once
 *   shift:S       Zipf(S) whose popular keys change every accesses/10 (new entities become hot)
 *   loop          keys 0..keys-1 over and over
 *   anything else a file: a trace the sidecar recorded (recorded_trace.ts), or one access a
 *                 line, `key` or `key,bytes` (CSV; a header line is skipped)
 */
export function loadTrace(spec: string, o: SyntheticOptions): Trace {
  const [kind, arg] = spec.split(':', 2) as [string, string | undefined];
  const skew = arg === undefined ? 1 : Number(arg);
  const synthetic = ['zipf', 'scan', 'shift', 'loop'].includes(kind);
  if (synthetic && !(skew > 0 && skew < 10))
    throw new RangeError(`${spec}: the skew must be above 0 and below 10`);
  if (synthetic && o.kind !== undefined) throw new RangeError('--kind needs a recorded trace');
  switch (kind) {
    case 'zipf':
      return zipfTrace(spec, skew, o, 0, 0);
    case 'scan':
      return zipfTrace(spec, skew, o, Math.max(1, Math.floor(o.keys / 10)), 0);
    case 'shift':
      return zipfTrace(spec, skew, o, 0, Math.max(1, Math.floor(o.accesses / 10)));
    case 'loop':
      return loopTrace(spec, o);
    default:
      return fileTrace(spec, o);
  }
}

/**
 * Zipf(skew) over `o.keys` keys; `scanLength` > 0 mixes in scans (about
 * half the accesses are to keys used once), `shiftEvery` > 0 moves the
 * popular set to new keys every so many accesses.
 */
function zipfTrace(
  name: string,
  skew: number,
  o: SyntheticOptions,
  scanLength: number,
  shiftEvery: number,
): Trace {
  const cdf = new Float64Array(o.keys);
  let total = 0;
  for (let k = 0; k < o.keys; k++) {
    total += 1 / (k + 1) ** skew;
    cdf[k] = total;
  }
  const rand = mulberry32(o.seed);
  const keys = new Int32Array(o.accesses);
  const scanEvery = scanLength * 2;
  let next = o.keys; // Ids of one-time keys, and of keys that become popular, start past the first popular set.
  let offset = 0;
  for (let i = 0; i < o.accesses; i++) {
    if (shiftEvery > 0 && i > 0 && i % shiftEvery === 0) offset += Math.floor(o.keys / 2);
    if (scanLength > 0 && i % scanEvery >= scanEvery - scanLength) {
      keys[i] = next++;
      continue;
    }
    const u = rand() * total;
    let lo = 0;
    let hi = o.keys - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cdf[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    keys[i] = lo + offset;
    next = Math.max(next, lo + offset + 1);
  }
  return { name, keys, sizes: new Int32Array(next).fill(o.entryBytes) };
}

function loopTrace(name: string, o: SyntheticOptions): Trace {
  const keys = new Int32Array(o.accesses);
  for (let i = 0; i < o.accesses; i++) keys[i] = i % o.keys;
  return { name, keys, sizes: new Int32Array(o.keys).fill(o.entryBytes) };
}

function fileTrace(path: string, o: SyntheticOptions): Trace {
  const contents = readFileSync(path);
  if (isRecorded(contents)) return recordedTrace(path, contents, o);
  if (o.kind !== undefined) throw new RangeError('--kind needs a recorded trace');
  const { entryBytes } = o;
  const ids = new Map<string, number>();
  const sizes: number[] = [];
  const keys: number[] = [];
  const lines = contents.toString('utf8').split(/\r?\n/);
  lines.forEach((line, n) => {
    if (line.trim() === '' || line.startsWith('#')) return;
    const [key, bytes] = line.split(',', 2).map((s) => s.trim()) as [string, string | undefined];
    const size = bytes === undefined || bytes === '' ? entryBytes : Number(bytes);
    if (!(Number.isInteger(size) && size > 0)) {
      if (n === 0) return; // A header line: key,bytes
      throw new RangeError(`${path}:${n + 1}: "${bytes}" is not a size in bytes`);
    }
    let id = ids.get(key);
    if (id === undefined) {
      id = sizes.length;
      ids.set(key, id);
      sizes.push(size);
    }
    keys.push(id);
  });
  if (keys.length === 0) throw new RangeError(`${path}: no accesses`);
  return { name: path, keys: Int32Array.from(keys), sizes: Int32Array.from(sizes) };
}
