/**
 * A growable byte buffer for values decoded one by one (unpacked repeated
 * fields, varints, strings): doubling growth keeps appends amortised O(1)
 * without an object per element. Small writes are plain byte stores:
 * Buffer.copy and writeUInt32LE cost a call into C++ or a bounds check each,
 * which dominated decoding a request of millions of one-byte strings.
 */
export class ByteSink {
  #buf: Uint8Array;
  length = 0;

  constructor(initial = 256) {
    this.#buf = new Uint8Array(initial);
  }

  #reserve(n: number): Uint8Array {
    if (this.length + n <= this.#buf.length) return this.#buf;
    let size = this.#buf.length * 2;
    while (size < this.length + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.#buf.subarray(0, this.length));
    this.#buf = grown;
    return grown;
  }

  bytes(source: Uint8Array, start: number, end: number): void {
    const n = end - start;
    const buf = this.#reserve(n);
    if (n > 32) buf.set(source.subarray(start, end), this.length);
    else for (let i = 0; i < n; i++) buf[this.length + i] = source[start + i] as number;
    this.length += n;
  }

  u32(value: number): void {
    const buf = this.#reserve(4);
    const at = this.length;
    buf[at] = value;
    buf[at + 1] = value >>> 8;
    buf[at + 2] = value >>> 16;
    buf[at + 3] = value >>> 24;
    this.length = at + 4;
  }

  /** A 64-bit little-endian value from its two halves. */
  u64(lo: number, hi: number): void {
    this.u32(lo);
    this.u32(hi);
  }

  /** The bytes written, in a buffer of their own (8-aligned, as Buffer.alloc gives). */
  take(): Buffer {
    const out = Buffer.alloc(this.length);
    out.set(this.#buf.subarray(0, this.length));
    return out;
  }
}
