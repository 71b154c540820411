import { type CacheKind, ENTRY_OVERHEAD_BYTES, lifetimes } from '../../src/cache/kind.js';
import { type FrameKind, RejectedValue } from '../../src/cache/value_frame.js';

/** A cached value of the simplest kind: some bytes and when they were made. */
export interface Blob {
  readonly time: number;
  readonly data: Buffer;
}

export interface BlobKindOptions {
  readonly id?: FrameKind;
  /** Payload length this reader expects; other lengths are refused as 'schema'. */
  readonly width?: number;
  readonly l1Ms?: number;
  readonly l2Ms?: number;
  readonly jitter?: number;
}

/**
 * A cache kind for tests of the generic cache: the payload is the bytes
 * themselves, and a reader with a `width` checks it the way a real kind
 * checks a value against its schema.
 */
export function blobKind(options: BlobKindOptions = {}): CacheKind<Blob> {
  const { id = 'p', width, l1Ms = 60_000, l2Ms = 60_000, jitter = 0 } = options;
  return {
    id,
    timeOf: (b) => b.time,
    writtenAt: (b) => b.time,
    encode: (b) => b.data,
    decode(payload, time) {
      if (width !== undefined && payload.length !== width) {
        throw new RejectedValue('schema', `${payload.length} bytes, expected ${width}`);
      }
      return { time, data: Buffer.from(payload) };
    },
    sizeOf: (b) => ENTRY_OVERHEAD_BYTES + b.data.length,
    ...lifetimes({ l1Ms, l2Ms, l2Jitter: jitter }),
  };
}

/** A blob of `length` bytes, all `fill`, made `ageMs` ago. */
export function blob(length: number, fill = 1, ageMs = 0): Blob {
  return { time: Date.now() - ageMs, data: Buffer.alloc(length, fill) };
}
