import { type CacheKind, ENTRY_OVERHEAD_BYTES, lifetimes } from '../cache/kind.js';
import { RejectedValue } from '../cache/value_frame.js';
import { DType } from '../tensor/dtypes.js';

/** One row's vector as the cache keeps it: float32 or float16 components, little-endian. */
export interface Embedding {
  readonly createdAt: number;
  /** True: `data` holds float16 halves (tensor/float16.ts); false: float32. */
  readonly half: boolean;
  readonly data: Buffer;
}

export interface EmbeddingTtl {
  readonly l1Ms: number;
  readonly l2Ms: number;
  readonly l2Jitter: number;
}

// As for predictions: a value "from the future" would pass max_age_ms checks for as long as it stays there.
const MAX_CLOCK_SKEW_MS = 60_000;

/**
 * Embeddings as a cache kind. Payload: u8 dtype (DataType FLOAT32 or
 * FLOAT16), u32 dim (little-endian), then dim components. A value read back
 * must have the reader's dim; a float16 reader also takes float32 values
 * (vectors a half cannot hold are stored as float32, see vectors.ts).
 */
export function embeddingKind(dim: number, ttl: EmbeddingTtl): CacheKind<Embedding> {
  return {
    id: 'e',
    timeOf: (e) => e.createdAt,
    writtenAt: (e) => e.createdAt,
    encode(e) {
      const out = Buffer.allocUnsafe(5 + e.data.length);
      out[0] = e.half ? DType.FLOAT16 : DType.FLOAT32;
      out.writeUInt32LE(e.data.length / (e.half ? 2 : 4), 1);
      e.data.copy(out, 5);
      return out;
    },
    decode(payload, time) {
      if (time > Date.now() + MAX_CLOCK_SKEW_MS)
        throw new RejectedValue('future', 'value computed in the future');
      if (payload.length < 5) throw new RejectedValue('format', 'malformed embedding: truncated');
      const dtype = payload[0];
      if (dtype !== DType.FLOAT16 && dtype !== DType.FLOAT32) {
        throw new RejectedValue('format', `malformed embedding: dtype ${dtype}`);
      }
      const half = dtype === DType.FLOAT16;
      const stored = payload.readUInt32LE(1);
      if (stored !== dim) throw new RejectedValue('schema', `embedding has dim ${stored}, expected ${dim}`);
      if (payload.length !== 5 + dim * (half ? 2 : 4)) {
        throw new RejectedValue('format', 'malformed embedding: length does not match its dim');
      }
      // A buffer of its own: aligned for typed-array views, and not pinning the Redis reply in L1.
      return { createdAt: time, half, data: Buffer.from(payload.subarray(5)) };
    },
    sizeOf: (e) => ENTRY_OVERHEAD_BYTES + e.data.byteLength,
    ...lifetimes(ttl),
  };
}
