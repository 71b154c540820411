import type { FrameKind } from './value_frame.js';

/** The first words of a recorded trace's header (trace_recorder.ts writes it). */
export const TRACE_FORMAT = 'infercache trace v1';
/** The first words of its last line: every lookup made while it was recorded, per kind. */
export const LOOKUPS_LINE = '# lookups';
const HEADER = /^# infercache trace v(\d+)(?:\s|$)/;
const LOOKUPS = /^# lookups p=(\d+) f=(\d+) e=(\d+)$/;
const LINE = /^(\+?)([pfe]):([0-9a-f]{1,16})(?:,(\d+))?$/;

export interface RecordedOptions {
  /** Only this kind's lines; every kind's when undefined. */
  readonly kind?: FrameKind;
  /** The size of a key of a kind with no known size at all. */
  readonly entryBytes: number;
}

/** What a recorded trace tells beyond its accesses. */
export interface Recorded {
  /** Lookups the recording sidecar's L1 answered. */
  readonly l1Hits: number;
  /** Keys never given a size, sized by guess. */
  readonly unsized: number;
}

/** Whether `bytes` (a file's contents) start like a trace the sidecar recorded. */
export function isRecorded(bytes: Buffer): boolean {
  return HEADER.test(bytes.toString('latin1', 0, Math.min(bytes.length, 64)));
}

/**
 * A trace the sidecar recorded (trace_recorder.ts): its lookups are the
 * accesses; store lines only give sizes. A key's size is the largest seen
 * for it on a hit or a store (L1 charges a key's entries alike, give or take
 * a row's size changing); a key never given one (it missed, and its store
 * was not recorded: dropped, or the trace ended first) takes the median
 * size of its kind's keys, or `entryBytes` when its kind has none.
 */
export function recordedTrace(
  name: string,
  bytes: Buffer,
  o: RecordedOptions,
): {
  name: string;
  keys: Int32Array;
  sizes: Int32Array;
  sampleRate: number;
  fullAccesses: number | undefined;
  recorded: Recorded;
} {
  const ids = new Map<string, number>();
  const names: string[] = [];
  const largest = new Map<string, number>();
  const keys: number[] = [];
  let sampleRate: number | undefined;
  let headers = 0;
  let counted = 0;
  let lookups = 0;
  let l1Hits = 0;
  let n = 0;
  for (let start = 0; start < bytes.length; ) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    const line = bytes.toString('latin1', start, end).trimEnd();
    start = end + 1;
    n++;
    if (line === '') continue;
    if (line.startsWith('#')) {
      const all = LOOKUPS.exec(line);
      if (all !== null) {
        counted++;
        const [p, f, e] = all.slice(1).map(Number) as [number, number, number];
        lookups += o.kind === undefined ? p + f + e : { p, f, e }[o.kind];
        continue;
      }
      const rate = headerRate(line, `${name}:${n}`);
      if (rate === undefined) continue;
      if (sampleRate !== undefined && rate !== sampleRate)
        throw new RangeError(`${name}:${n}: sampled at ${rate}, the lines before at ${sampleRate}`);
      sampleRate = rate;
      headers++;
      continue;
    }
    const m = LINE.exec(line);
    if (m === null)
      throw new RangeError(`${name}:${n}: not a trace line: ${JSON.stringify(line.slice(0, 80))}`);
    const [, store, kind, hash, size] = m as unknown as [
      string,
      string,
      FrameKind,
      string,
      string | undefined,
    ];
    if (o.kind !== undefined && kind !== o.kind) continue;
    const key = `${kind}:${hash}`;
    if (size !== undefined) {
      const bytesOf = Number(size);
      if (!(bytesOf > 0)) throw new RangeError(`${name}:${n}: "${size}" is not a size in bytes`);
      if (bytesOf > (largest.get(key) ?? 0)) largest.set(key, bytesOf);
    }
    if (store === '+') continue;
    if (size !== undefined) l1Hits++;
    let id = ids.get(key);
    if (id === undefined) {
      id = names.length;
      ids.set(key, id);
      names.push(key);
    }
    keys.push(id);
  }
  if (keys.length === 0) throw new RangeError(`${name}: no lookups${o.kind ? ` of kind ${o.kind}` : ''}`);
  const { sizes, unsized } = keySizes(names, largest, o.entryBytes);
  return {
    name: o.kind === undefined ? name : `${name} [${o.kind}]`,
    keys: Int32Array.from(keys),
    sizes,
    sampleRate: sampleRate ?? 1,
    // Known only when every recording in the file ended cleanly, with its count.
    fullAccesses: counted === headers ? lookups : undefined,
    recorded: { l1Hits, unsized },
  };
}

/** The sample rate a header line gives; undefined for a comment that is not a header. */
function headerRate(line: string, where: string): number | undefined {
  const version = HEADER.exec(line)?.[1];
  if (version === undefined) return undefined;
  if (version !== '1') throw new RangeError(`${where}: trace format v${version}; this reader knows v1`);
  const rate = Number(/\ssample=(\S+)/.exec(line)?.[1]);
  if (!(rate > 0 && rate <= 1)) throw new RangeError(`${where}: the header gives no sample rate in (0, 1]`);
  return rate;
}

/** Each key's size: the largest it was given, else the median of its kind's, else `entryBytes`. */
function keySizes(
  names: readonly string[],
  largest: ReadonlyMap<string, number>,
  entryBytes: number,
): { sizes: Int32Array; unsized: number } {
  const known = new Map<string, number[]>();
  for (const key of names) {
    const size = largest.get(key);
    if (size === undefined) continue;
    const kind = key.slice(0, 1);
    const list = known.get(kind);
    if (list === undefined) known.set(kind, [size]);
    else list.push(size);
  }
  const median = new Map<string, number>();
  for (const [kind, list] of known) {
    list.sort((a, b) => a - b);
    median.set(kind, list[list.length >> 1] as number);
  }
  let unsized = 0;
  const sizes = Int32Array.from(names, (key) => {
    const size = largest.get(key);
    if (size !== undefined) return size;
    unsized++;
    return median.get(key.slice(0, 1)) ?? entryBytes;
  });
  return { sizes, unsized };
}
