import { isUtf8 } from 'node:buffer';

/** A message that is not valid protobuf for the type it was read as; the caller's error. */
export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

/**
 * Elements one request may hold: fields, packed values and strings
 * together. Decoding costs a few nanoseconds per element, so this bounds
 * the time one request holds the event loop (about 15 ms on a 2-core VM) whatever its
 * byte size; numbers in bulk belong in `raw`, which is copied, not walked.
 */
export const MAX_ELEMENTS = 1 << 18;

/** Thrown past MAX_ELEMENTS: refused before more decoding is paid for. */
export class ElementLimitError extends Error {
  constructor(limit: number) {
    super(
      `the request holds more than ${limit} fields and values; send numeric tensors as raw bytes, or split the request`,
    );
    this.name = 'ElementLimitError';
  }
}

class ElementBudget {
  #left: number;
  readonly #limit: number;
  constructor(limit: number) {
    this.#left = limit;
    this.#limit = limit;
  }
  take(): void {
    if (--this.#left < 0) throw new ElementLimitError(this.#limit);
  }
}

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

/**
 * A protobuf wire-format reader over one buffer, for the messages we decode
 * ourselves: straight from bytes to tensors, with every limit checked while
 * reading, so the cost of a request is linear in its size and a request
 * past a limit is refused before that cost is paid. (protobufjs decodes the
 * whole message into objects first: 32 MiB of 1-byte strings once froze
 * the process for 40 s and took 3.7 GB.) Hand-written because the libraries
 * found decode to objects; this one never allocates per element.
 */
export class ProtoReader {
  readonly buf: Buffer;
  pos: number;
  readonly end: number;
  readonly #budget: ElementBudget;

  constructor(buf: Buffer, start = 0, end = buf.length, budget = new ElementBudget(MAX_ELEMENTS)) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.#budget = budget;
  }

  /** A reader of the bytes [start, end) of this message, sharing its element budget. */
  sub(start: number, end: number): ProtoReader {
    return new ProtoReader(this.buf, start, end, this.#budget);
  }

  /** Counts one element (a field, or a value of a packed field) against the message's budget. */
  element(): void {
    this.#budget.take();
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** The next field's key: field number << 3 | wire type (split with >>> 3 and & 7). */
  tag(): number {
    this.#budget.take();
    const key = this.varint32();
    if (key >>> 3 === 0) throw new WireError('field number 0');
    return key;
  }

  /** A varint, keeping its low 32 bits (unsigned). Reads all of up to 10 bytes. */
  varint32(): number {
    const { buf, end } = this;
    let result = 0;
    let shift = 0;
    let pos = this.pos;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) throw new WireError('truncated varint');
      const byte = buf[pos++] as number;
      if (shift < 32) result |= (byte & 0x7f) << shift;
      shift += 7;
      if ((byte & 0x80) === 0) {
        this.pos = pos;
        return result >>> 0;
      }
    }
    throw new WireError('varint longer than 10 bytes');
  }

  /** A varint as two 32-bit halves, for int64/uint64 values kept exact. */
  varint64(out: { lo: number; hi: number }): void {
    const { buf, end } = this;
    let lo = 0;
    let hi = 0;
    let pos = this.pos;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) throw new WireError('truncated varint');
      const byte = buf[pos++] as number;
      const bits = byte & 0x7f;
      if (i < 4) lo |= bits << (7 * i);
      else if (i === 4) {
        lo |= (bits & 0x0f) << 28;
        hi |= bits >>> 4;
      } else hi |= bits << (7 * i - 32);
      if ((byte & 0x80) === 0) {
        this.pos = pos;
        out.lo = lo >>> 0;
        out.hi = hi >>> 0;
        return;
      }
    }
    throw new WireError('varint longer than 10 bytes');
  }

  bool(): boolean {
    return this.varint32() !== 0;
  }

  /**
   * Moves past a length-delimited field, checked against the buffer, and
   * returns where its bytes start; they end at the new `pos`.
   */
  span(): number {
    const length = this.varint32();
    const start = this.pos;
    if (length > this.end - start) throw new WireError('length past the end of the message');
    this.pos = start + length;
    return start;
  }

  bytes(): Buffer {
    const start = this.span();
    return this.buf.subarray(start, this.pos);
  }

  /** A string field of at most `maxBytes` bytes of valid UTF-8, refused before it is decoded. */
  string(what: string, maxBytes: number): string {
    const start = this.span();
    const end = this.pos;
    if (end - start > maxBytes) throw new WireError(`${what} is ${end - start} bytes; at most ${maxBytes}`);
    const view = this.buf.subarray(start, end);
    if (!isUtf8(view)) throw new WireError(`${what} is not valid UTF-8`);
    return view.toString('utf8');
  }

  /**
   * Moves past a string field, checked as `string` checks it, and says what
   * is wrong with it ("is 300 bytes; at most 256"), or undefined when
   * nothing is; the caller names the field, so nothing is built per string.
   * The bytes are neither decoded nor viewed when they are ASCII: a request
   * of 2^18 one-byte ids spent 25 ms on a view per id, twice its decoding.
   */
  skipString(maxBytes: number): string | undefined {
    const { buf } = this;
    const start = this.span();
    const end = this.pos;
    if (end - start > maxBytes) return `is ${end - start} bytes; at most ${maxBytes}`;
    for (let i = start; i < end; i++) {
      if ((buf[i] as number) >= 0x80)
        return isUtf8(buf.subarray(start, end)) ? undefined : 'is not valid UTF-8';
    }
    return undefined;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint32();
        return;
      case WIRE_FIXED64:
        this.#advance(8);
        return;
      case WIRE_LEN:
        this.span();
        return;
      case WIRE_FIXED32:
        this.#advance(4);
        return;
      default:
        throw new WireError(`unsupported wire type ${wireType}`);
    }
  }

  /** Moves past `n` bytes, checking they exist. */
  #advance(n: number): void {
    if (this.end - this.pos < n) throw new WireError('truncated field');
    this.pos += n;
  }

  fixed32Span(): number {
    const at = this.pos;
    this.#advance(4);
    return at;
  }

  fixed64Span(): number {
    const at = this.pos;
    this.#advance(8);
    return at;
  }
}
