import { endianness } from 'node:os';

const LITTLE_ENDIAN = endianness() === 'LE';
const WIRE_VARINT = 0;
const WIRE_LEN = 2;

/**
 * Encodes a response message field by field, for the answers whose bulk is
 * numbers (vectors, tensors): protobufjs would take them as JS arrays, one
 * object and one write call per element; here a packed float field is one
 * byte copy. Follows proto3's rules: fields at their default are left out.
 */
export class ProtoWriter {
  #buf: Buffer;
  #at = 0;

  constructor(sizeHint = 256) {
    this.#buf = Buffer.allocUnsafe(sizeHint);
  }

  #reserve(n: number): void {
    if (this.#at + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#at + n) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.#buf.copy(grown, 0, 0, this.#at);
    this.#buf = grown;
  }

  #varint(value: number): void {
    this.#reserve(10);
    let v = value;
    while (v >= 0x80) {
      this.#buf[this.#at++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.#buf[this.#at++] = v;
  }

  #tag(field: number, wire: number): void {
    this.#varint(field * 8 + wire);
  }

  /** A non-negative integer below 2^53 (uint32, uint64, an enum's number). */
  uint(field: number, value: number): this {
    if (value === 0) return this;
    this.#tag(field, WIRE_VARINT);
    this.#varint(value);
    return this;
  }

  bool(field: number, value: boolean): this {
    return this.uint(field, value ? 1 : 0);
  }

  string(field: number, value: string): this {
    if (value.length === 0) return this;
    const length = Buffer.byteLength(value);
    this.#tag(field, WIRE_LEN);
    this.#varint(length);
    this.#reserve(length);
    this.#at += this.#buf.write(value, this.#at);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    if (value.length === 0) return this;
    this.#tag(field, WIRE_LEN);
    this.#varint(value.length);
    this.#reserve(value.length);
    this.#buf.set(value, this.#at);
    this.#at += value.length;
    return this;
  }

  /** A `bytes` field whose value is `parts` one after the other (`length` bytes in all), copied in place. */
  bytesOf(field: number, parts: readonly Uint8Array[], length: number): this {
    if (length === 0) return this;
    this.#tag(field, WIRE_LEN);
    this.#varint(length);
    this.#reserve(length);
    for (const part of parts) {
      this.#buf.set(part, this.#at);
      this.#at += part.length;
    }
    return this;
  }

  /** A packed `repeated float`: its bytes are the floats little-endian, so one copy. */
  floats(field: number, values: Float32Array): this {
    return this.#fixed(field, values);
  }

  /** A packed `repeated double`, as floats. */
  doubles(field: number, values: Float64Array): this {
    return this.#fixed(field, values);
  }

  #fixed(field: number, values: Float32Array | Float64Array): this {
    if (values.length === 0) return this;
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    if (LITTLE_ENDIAN) return this.bytes(field, bytes);
    // Each element's bytes reversed, on a big-endian host.
    const size = values.BYTES_PER_ELEMENT;
    const le = Buffer.from(bytes);
    for (let at = 0; at < le.length; at += size) le.subarray(at, at + size).reverse();
    return this.bytes(field, le);
  }

  /** One element of a `repeated bytes` or `repeated string` field: written even when empty. */
  element(field: number, value: Uint8Array): this {
    this.#tag(field, WIRE_LEN);
    this.#varint(value.length);
    this.#reserve(value.length);
    this.#buf.set(value, this.#at);
    this.#at += value.length;
    return this;
  }

  /**
   * An embedded message (or map entry) written by `write`: always present,
   * even when empty. Its length prefix is reserved as one byte and moved
   * when the message turns out longer, so nothing is encoded twice.
   */
  message(field: number, write: (w: this) => void): this {
    this.#tag(field, WIRE_LEN);
    this.#reserve(1);
    const lengthAt = this.#at++;
    write(this);
    const length = this.#at - lengthAt - 1;
    const extra = varintSize(length) - 1;
    if (extra > 0) {
      this.#reserve(extra);
      this.#buf.copyWithin(lengthAt + 1 + extra, lengthAt + 1, this.#at);
      this.#at += extra;
    }
    let v = length;
    let at = lengthAt;
    while (v >= 0x80) {
      this.#buf[at++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.#buf[at] = v;
    return this;
  }

  /**
   * A packed `repeated int32` or `int64` of numbers within 2^53: negative
   * values take ten bytes, their two's complement in 64 bits, as proto does.
   */
  packedSigned(field: number, values: ArrayLike<number>): this {
    if (values.length === 0) return this;
    let length = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as number;
      length += v < 0 ? 10 : varintSize(v);
    }
    this.#tag(field, WIRE_LEN);
    this.#varint(length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as number;
      if (v >= 0) this.#varint(v);
      else this.#bigVarint(BigInt.asUintN(64, BigInt(v)));
    }
    return this;
  }

  /** A packed `repeated int64` of any int64 values (bigints, or numbers that are integers). */
  packedInt64(field: number, values: readonly (bigint | number)[]): this {
    if (values.length === 0) return this;
    const unsigned = values.map((v) => BigInt.asUintN(64, typeof v === 'bigint' ? v : BigInt(v)));
    let length = 0;
    for (const v of unsigned) length += v < 0x80n ? 1 : bigVarintSize(v);
    this.#tag(field, WIRE_LEN);
    this.#varint(length);
    for (const v of unsigned) this.#bigVarint(v);
    return this;
  }

  #bigVarint(value: bigint): void {
    this.#reserve(10);
    let v = value;
    while (v >= 0x80n) {
      this.#buf[this.#at++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.#buf[this.#at++] = Number(v);
  }

  /** A packed `repeated` enum or uint32. */
  packed(field: number, values: readonly number[]): this {
    if (values.length === 0) return this;
    let length = 0;
    for (const v of values) length += varintSize(v);
    this.#tag(field, WIRE_LEN);
    this.#varint(length);
    for (const v of values) this.#varint(v);
    return this;
  }

  /** The encoded message (a view of this writer's buffer). */
  finish(): Buffer {
    return this.#buf.subarray(0, this.#at);
  }
}

function bigVarintSize(value: bigint): number {
  let size = 1;
  for (let v = value; v >= 0x80n; v >>= 7n) size++;
  return size;
}

function varintSize(value: number): number {
  let size = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 128)) size++;
  return size;
}
