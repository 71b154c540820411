/** The largest slab: few enough buffers for the GC, and one is moved in well under a millisecond. */
export const MAX_SLAB_BYTES = 1 << 20;
// Slabs are smaller for a smaller bound, at most 1/256 of it, so the slab
// being filled and the one being emptied by a move cost under 0.8% of it.
const SLABS_PER_BOUND = 256;
const MIN_SLAB_BYTES = 256;
/** Before each value in a slab: its owner (FREE once freed) and its length, both int32. */
export const RECORD_HEADER_BYTES = 8;
// A record (header and value) larger than 1/128 of a slab gets a buffer of
// its own: a slab is left with a tail smaller than the record that did not
// fit, so this bounds that waste to 1/128 of every slab.
const OWN_BUFFER_PAST = 128;
const FREE = -1;
const NONE = -1;

/** Where a value's bytes are: a slab (or a buffer of its own) and the offset of the value in it. */
export interface Slot {
  readonly slab: number;
  readonly offset: number;
}

/** Told where a value went when it was moved to another slab: its owner, as given to alloc(). */
export type MoveListener = (owner: number, slab: number, offset: number) => void;

/** The bytes of a slab for an arena bound to `boundBytes`. */
export function slabBytesFor(boundBytes: number): number {
  const share = Math.floor(boundBytes / SLABS_PER_BOUND / 8) * 8;
  return Math.min(MAX_SLAB_BYTES, Math.max(MIN_SLAB_BYTES, share));
}

/**
 * Byte ranges in few large buffers, held within a byte bound. Values of any
 * size are appended, each after a header naming its owner, to the one slab
 * being filled; a freed value leaves a hole, and a slab whose last value is
 * freed is given back. Holes are what a bound on the values' bytes does not
 * bound (a few values still live in each of many slabs can hold all of
 * them), so when the slabs held pass the limit, trim() moves the live values
 * of the slab with the most free bytes to the slab being filled (telling the
 * owner, who keeps where its value is) and gives the emptied slab back.
 *
 * The buffers live outside the JS heap (Buffer.allocUnsafeSlow), so the GC
 * sees one object per slab, not several per value. A value larger than
 * 1/128 of a slab gets an exact buffer of its own, never moved.
 *
 * The bound: with the values' bytes plus RECORD_HEADER_BYTES each kept
 * within `boundBytes` by the caller, reservedBytes stays within
 * `maxReservedBytes` after every trim(): the bound, 1/127 of it for the
 * tails that slabs are left with, and two slabs (the one being filled, and
 * slack so that a trim moves a slab's worth at a time).
 */
export class SlabArena {
  readonly slabBytes: number;
  /** What reservedBytes stays within after trim(). */
  readonly maxReservedBytes: number;
  /** The longest value kept in a shared slab. */
  readonly #sharedUpTo: number;
  readonly #onMove: MoveListener;
  #buffers: (Buffer | undefined)[] = [];
  /** Bytes of the live records (headers included) of each shared slab. */
  #live = new Int32Array(16);
  /** Where each shared slab's records end (for the slab being filled, #fill). */
  #end = new Int32Array(16);
  #own = new Uint8Array(16);
  readonly #shared = new Set<number>();
  #freeIds: number[] = [];
  #head = NONE;
  #fill = 0;
  #spare: Buffer | undefined;
  #reserved = 0;

  constructor(boundBytes: number, onMove: MoveListener) {
    this.slabBytes = slabBytesFor(boundBytes);
    this.#sharedUpTo = Math.floor(this.slabBytes / OWN_BUFFER_PAST) - RECORD_HEADER_BYTES;
    this.maxReservedBytes = boundBytes + Math.ceil(boundBytes / (OWN_BUFFER_PAST - 1)) + 2 * this.slabBytes;
    this.#onMove = onMove;
  }

  /** Bytes of every buffer held, the spare slab included: the arena's real footprint. */
  get reservedBytes(): number {
    return this.#reserved;
  }

  /** The bytes a value of `length` costs against the bound, header included. */
  static recordBytes(length: number): number {
    return length + RECORD_HEADER_BYTES;
  }

  /** Room for `length` bytes belonging to `owner` (a non-negative integer, told if the bytes move). */
  alloc(owner: number, length: number): Slot {
    if (length > this.#sharedUpTo) {
      const slab = this.#newId();
      this.#buffers[slab] = Buffer.allocUnsafeSlow(length);
      this.#own[slab] = 1;
      this.#reserved += length;
      return { slab, offset: 0 };
    }
    return this.#append(owner, length);
  }

  /** The buffer of `slab`; valid until its last value is freed or moved. */
  buffer(slab: number): Buffer {
    return this.#buffers[slab] as Buffer;
  }

  free(slab: number, offset: number): void {
    if (this.#own[slab] === 1) {
      this.#release(slab);
      return;
    }
    const buffer = this.#buffers[slab] as Buffer;
    const at = offset - RECORD_HEADER_BYTES;
    const size = RECORD_HEADER_BYTES + buffer.readInt32LE(at + 4);
    buffer.writeInt32LE(FREE, at);
    const live = (this.#live[slab] as number) - size;
    this.#live[slab] = live;
    if (slab !== this.#head) {
      if (live === 0) this.#release(slab);
      return;
    }
    // The last value appended (a candidate the policy turned away) leaves no hole.
    if (live === 0) this.#fill = 0;
    else if (at + size === this.#fill) this.#fill = at;
    this.#end[slab] = this.#fill;
  }

  /**
   * Gives back slabs until reservedBytes is within maxReservedBytes, a slab
   * below it if it was past it: first the spare, then the slabs with the
   * most free bytes, their live values moved. Called after each store,
   * once the values the store made room for are freed.
   */
  trim(): void {
    if (this.#reserved <= this.maxReservedBytes) return;
    this.#dropSpare();
    const goal = this.maxReservedBytes - this.slabBytes;
    // Every move empties a slab: more moves than slabs would go round in circles.
    for (let moves = this.#shared.size; this.#reserved > goal && moves > 0; moves--) {
      let victim = NONE;
      let most = 0;
      for (const slab of this.#shared) {
        const free = this.slabBytes - (this.#live[slab] as number);
        if (slab !== this.#head && free > most) [victim, most] = [slab, free];
      }
      // Only tails smaller than a record left: the slabs are as full as they get.
      if (victim === NONE || most * OWN_BUFFER_PAST <= this.slabBytes) return;
      this.#move(victim);
    }
  }

  #append(owner: number, length: number): Slot {
    const size = RECORD_HEADER_BYTES + length;
    if (this.#head === NONE || this.#fill + size > this.slabBytes) this.#newHead();
    const slab = this.#head;
    const buffer = this.#buffers[slab] as Buffer;
    const at = this.#fill;
    buffer.writeInt32LE(owner, at);
    buffer.writeInt32LE(length, at + 4);
    this.#fill = at + size;
    this.#end[slab] = this.#fill;
    this.#live[slab] = (this.#live[slab] as number) + size;
    return { slab, offset: at + RECORD_HEADER_BYTES };
  }

  /** Moves every live value of `slab` to the slab being filled, and gives `slab` back. */
  #move(slab: number): void {
    const from = this.#buffers[slab] as Buffer;
    const end = this.#end[slab] as number;
    for (let at = 0; at < end; ) {
      const owner = from.readInt32LE(at);
      const length = from.readInt32LE(at + 4);
      if (owner !== FREE) {
        const to = this.#append(owner, length);
        from.copy(
          this.#buffers[to.slab] as Buffer,
          to.offset,
          at + RECORD_HEADER_BYTES,
          at + RECORD_HEADER_BYTES + length,
        );
        this.#onMove(owner, to.slab, to.offset);
      }
      at += RECORD_HEADER_BYTES + length;
    }
    this.#release(slab);
  }

  #newHead(): void {
    const old = this.#head;
    this.#head = NONE;
    if (old !== NONE && this.#live[old] === 0) this.#release(old);
    const slab = this.#newId();
    const spare = this.#spare;
    this.#spare = undefined;
    this.#buffers[slab] = spare ?? Buffer.allocUnsafeSlow(this.slabBytes);
    if (spare === undefined) this.#reserved += this.slabBytes;
    this.#own[slab] = 0;
    this.#live[slab] = 0;
    this.#end[slab] = 0;
    this.#shared.add(slab);
    this.#head = slab;
    this.#fill = 0;
  }

  #release(slab: number): void {
    const buffer = this.#buffers[slab] as Buffer;
    this.#buffers[slab] = undefined;
    this.#freeIds.push(slab);
    if (this.#own[slab] === 1) {
      this.#reserved -= buffer.length;
      return;
    }
    this.#shared.delete(slab);
    // One emptied slab is kept for the next, so a slab filled and emptied in turn is not allocated each time.
    if (this.#spare === undefined) this.#spare = buffer;
    else this.#reserved -= buffer.length;
  }

  #dropSpare(): void {
    if (this.#spare === undefined) return;
    this.#reserved -= this.#spare.length;
    this.#spare = undefined;
  }

  #newId(): number {
    const reused = this.#freeIds.pop();
    if (reused !== undefined) return reused;
    const id = this.#buffers.length;
    this.#buffers.push(undefined);
    if (id >= this.#own.length) {
      const size = this.#own.length * 2;
      this.#live = grown(new Int32Array(size), this.#live);
      this.#end = grown(new Int32Array(size), this.#end);
      this.#own = grown(new Uint8Array(size), this.#own);
    }
    return id;
  }
}

function grown<A extends Int32Array | Uint8Array>(into: A, from: A): A {
  into.set(from);
  return into;
}
