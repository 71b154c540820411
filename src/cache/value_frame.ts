import xxhash from 'xxhash-wasm';

// XXH64 in WebAssembly, not @node-rs/xxhash's N-API XXH3: a frame is checked
// on every L2 read and write, and two N-API calls per value (the key, then
// the bytes) cost ~0.7 µs, more than decoding a 20-feature row; the WASM
// calls cost ~0.25 µs. XXH64 is the standard one, so a writer outside Node
// (a batch job) makes the same check with any xxhash library.
const { h64, h64Raw } = await xxhash();

/**
 * Every value stored in L2 travels in a frame (format v3, a contract shared
 * by every sidecar of a fleet):
 *
 *   0   2  magic "IC"
 *   2   1  format version (3)
 *   3   1  kind: 'p' prediction, 'f' feature row, 'e' embedding
 *   4   4  payload length, u32 little-endian
 *   8   8  time, float64 big-endian: when the value was computed (p, e) or
 *          its event time (f); big-endian so a Lua script can read it with
 *          struct.unpack('>d') for the newer-event-wins rule
 *   16  n  payload, defined by the kind
 *   16+n 8 check: XXH64 of bytes 0..16+n, seeded with XXH64 of the key's
 *          UTF-8 bytes (seed 0), little-endian
 *
 * The check covers the key as well as the bytes, so a value truncated,
 * altered or copied under another key is refused. It detects accidents and
 * misplaced writes, not an attacker who can write to Redis.
 * Hand-written rather than msgpack: it is read on every L2 hit, and its
 * fixed layout is what the Lua write script relies on.
 */
const MAGIC_0 = 0x49;
const MAGIC_1 = 0x43;
const FORMAT_VERSION = 3;
export const FRAME_HEADER_BYTES = 16;
const CHECK_BYTES = 8;
/** Byte offset of the big-endian float64 time (for Lua: struct.unpack('>d', value, 9)). */
export const FRAME_TIME_OFFSET = 8;

export type FrameKind = 'p' | 'f' | 'e';

export interface Frame {
  readonly kind: FrameKind;
  readonly time: number;
  readonly payload: Buffer;
}

/** Why a stored value was refused (the `reason` label of infercache_cache_rejected_values_total). */
export type RejectReason = 'format' | 'checksum' | 'schema' | 'future';

export class RejectedValue extends Error {
  readonly reason: RejectReason;
  constructor(reason: RejectReason, message: string) {
    super(message);
    this.name = 'RejectedValue';
    this.reason = reason;
  }
}

export function encodeFrame(key: string, kind: FrameKind, time: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(frameSize(payload.length));
  encodeFrameInto(out, 0, key, kind, time, payload);
  return out;
}

/** Bytes of the frame of a payload of `payloadBytes`. */
export function frameSize(payloadBytes: number): number {
  return FRAME_HEADER_BYTES + payloadBytes + CHECK_BYTES;
}

/**
 * encodeFrame into `out` at `at` (frameSize(payload.length) bytes must fit);
 * returns where the frame ends. For many frames sent as one argument (the
 * bulk loader): one buffer, no frame of its own per value.
 */
export function encodeFrameInto(
  out: Buffer,
  at: number,
  key: string,
  kind: FrameKind,
  time: number,
  payload: Uint8Array,
): number {
  const end = at + FRAME_HEADER_BYTES + payload.length;
  out[at] = MAGIC_0;
  out[at + 1] = MAGIC_1;
  out[at + 2] = FORMAT_VERSION;
  out[at + 3] = kind.charCodeAt(0);
  out.writeUInt32LE(payload.length, at + 4);
  out.writeDoubleBE(time, at + FRAME_TIME_OFFSET);
  out.set(payload, at + FRAME_HEADER_BYTES);
  out.writeBigUInt64LE(h64Raw(out.subarray(at, end), h64(key)), end);
  return end + CHECK_BYTES;
}

/** Opens a frame read under `key`; throws RejectedValue when it is not a sound frame of `kind`. */
export function decodeFrame(key: string, kind: FrameKind, bytes: Buffer): Frame {
  if (bytes.length < FRAME_HEADER_BYTES + CHECK_BYTES || bytes[0] !== MAGIC_0 || bytes[1] !== MAGIC_1) {
    throw new RejectedValue('format', 'not an infercache value');
  }
  if (bytes[2] !== FORMAT_VERSION)
    throw new RejectedValue('format', `value format ${bytes[2]}, expected ${FORMAT_VERSION}`);
  if (bytes[3] !== kind.charCodeAt(0)) throw new RejectedValue('format', 'value of another kind');
  const length = bytes.readUInt32LE(4);
  if (bytes.length !== FRAME_HEADER_BYTES + length + CHECK_BYTES) {
    throw new RejectedValue('checksum', 'value length does not match its header (truncated or padded)');
  }
  const end = bytes.length - CHECK_BYTES;
  const check = h64Raw(bytes.subarray(0, end), h64(key));
  if (check !== bytes.readBigUInt64LE(end)) {
    throw new RejectedValue('checksum', 'value check does not match its bytes and key');
  }
  const time = bytes.readDoubleBE(FRAME_TIME_OFFSET);
  if (!Number.isFinite(time) || time < 0) throw new RejectedValue('format', 'value time is not a time');
  return { kind, time, payload: bytes.subarray(FRAME_HEADER_BYTES, end) };
}
