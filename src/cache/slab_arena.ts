/** Bytes of one shared slab: few enough objects for the GC, small enough that an idle class wastes little. */
export const SLAB_BYTES = 1 << 20;
// A value past this gets a buffer of its own (still one object): in a shared
// slab its class would round it up by as much as an eighth of a slab.
const OWN_SLAB_FROM = SLAB_BYTES >> 3;
// Slot sizes step by an eighth from 64 bytes (multiples of 16 below): a slot
// wastes at most 12.5% of its bytes, and that waste is counted in the bound.
const SMALL_STEP = 16;
const GEOMETRIC_FROM = 64;
const GROWTH = 1.125;
// Slabs emptied are kept for reuse, up to this many, so a class that
// hovers around empty does not allocate and free a megabyte each time.
const SPARE_SLABS = 2;
const NONE = -1;

/** Where a value's bytes are: a slab and an offset in it. */
export interface Slot {
  readonly slab: number;
  readonly offset: number;
}

/**
 * An allocator of byte ranges in few large buffers (slabs): each shared slab
 * holds slots of one size class, a freed slot is reused by the next value
 * of its class (its free list threads through the free slots themselves),
 * and a slab whose last slot is freed goes back to a small pool. The
 * buffers live outside the JS heap (Buffer.allocUnsafeSlow), so the GC
 * sees one object per megabyte of cached values, not several per value.
 */
export class SlabArena {
  #buffers: (Buffer | undefined)[] = [];
  /** Slot bytes of each slab's class; NONE for a buffer of its own. */
  #classOf = new Int32Array(16);
  #slots = new Int32Array(16);
  #used = new Int32Array(16);
  #bump = new Int32Array(16);
  #freeHead = new Int32Array(16);
  #freeSlabIds: number[] = [];
  #spares: Buffer[] = [];
  /** Per class, the slabs with a free slot (the last one is filled first). */
  readonly #partial = new Map<number, number[]>();
  #reserved = 0;

  /** Bytes of every slab held, spare ones included: the arena's real footprint. */
  get reservedBytes(): number {
    return this.#reserved;
  }

  /** The bytes a value of `length` occupies (its slot), for the store's bound. */
  static slotBytes(length: number): number {
    return length > OWN_SLAB_FROM ? roundUp(length, SMALL_STEP) : classBytes(length);
  }

  alloc(length: number): Slot {
    if (length > OWN_SLAB_FROM) {
      const bytes = roundUp(length, SMALL_STEP);
      const slab = this.#newSlab(Buffer.allocUnsafeSlow(bytes), NONE, true);
      this.#used[slab] = 1;
      return { slab, offset: 0 };
    }
    const bytes = classBytes(length);
    let partial = this.#partial.get(bytes);
    if (partial === undefined) {
      partial = [];
      this.#partial.set(bytes, partial);
    }
    let slab = partial.length > 0 ? (partial[partial.length - 1] as number) : NONE;
    if (slab === NONE) {
      const spare = this.#spares.pop();
      slab = this.#newSlab(spare ?? Buffer.allocUnsafeSlow(SLAB_BYTES), bytes, spare === undefined);
      partial.push(slab);
    }
    const buffer = this.#buffers[slab] as Buffer;
    let slot = this.#freeHead[slab] as number;
    if (slot !== NONE) this.#freeHead[slab] = buffer.readInt32LE(slot * bytes);
    else {
      slot = this.#bump[slab] as number;
      this.#bump[slab] = slot + 1;
    }
    const used = (this.#used[slab] as number) + 1;
    this.#used[slab] = used;
    if (used === this.#slots[slab]) partial.pop();
    return { slab, offset: slot * bytes };
  }

  /** The buffer of `slab`; valid until the slab's last slot is freed. */
  buffer(slab: number): Buffer {
    return this.#buffers[slab] as Buffer;
  }

  free(slab: number, offset: number): void {
    const bytes = this.#classOf[slab] as number;
    if (bytes === NONE) {
      this.#release(slab, false);
      return;
    }
    const partial = this.#partial.get(bytes) as number[];
    const wasFull = this.#used[slab] === this.#slots[slab];
    const used = (this.#used[slab] as number) - 1;
    this.#used[slab] = used;
    if (used === 0) {
      const at = partial.indexOf(slab);
      if (at >= 0) partial.splice(at, 1);
      this.#release(slab, true);
      return;
    }
    const buffer = this.#buffers[slab] as Buffer;
    buffer.writeInt32LE(this.#freeHead[slab] as number, offset);
    this.#freeHead[slab] = offset / bytes;
    if (wasFull) partial.push(slab);
  }

  #newSlab(buffer: Buffer, slotBytes: number, fresh: boolean): number {
    const slab = this.#freeSlabIds.pop() ?? this.#grow();
    this.#buffers[slab] = buffer;
    this.#classOf[slab] = slotBytes;
    this.#slots[slab] = slotBytes === NONE ? 1 : Math.floor(buffer.length / slotBytes);
    this.#used[slab] = 0;
    this.#bump[slab] = 0;
    this.#freeHead[slab] = NONE;
    if (fresh) this.#reserved += buffer.length;
    return slab;
  }

  #release(slab: number, shared: boolean): void {
    const buffer = this.#buffers[slab] as Buffer;
    this.#buffers[slab] = undefined;
    this.#freeSlabIds.push(slab);
    if (shared && this.#spares.length < SPARE_SLABS) this.#spares.push(buffer);
    else this.#reserved -= buffer.length;
  }

  #grow(): number {
    const id = this.#buffers.length;
    this.#buffers.push(undefined);
    if (id >= this.#classOf.length) {
      const size = this.#classOf.length * 2;
      this.#classOf = grown(this.#classOf, size);
      this.#slots = grown(this.#slots, size);
      this.#used = grown(this.#used, size);
      this.#bump = grown(this.#bump, size);
      this.#freeHead = grown(this.#freeHead, size);
    }
    return id;
  }
}

function grown(a: Int32Array, size: number) {
  const b = new Int32Array(size);
  b.set(a);
  return b;
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

const CLASSES: readonly number[] = (() => {
  const classes: number[] = [];
  for (let c = SMALL_STEP; c < GEOMETRIC_FROM; c += SMALL_STEP) classes.push(c);
  for (let c = GEOMETRIC_FROM; c < OWN_SLAB_FROM; c = roundUp(c * GROWTH, SMALL_STEP)) classes.push(c);
  classes.push(OWN_SLAB_FROM);
  return classes;
})();

/** The size class of a value of `length` bytes (at most OWN_SLAB_FROM); a free slot holds the next one's index. */
function classBytes(length: number): number {
  let lo = 0;
  let hi = CLASSES.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((CLASSES[mid] as number) < length) lo = mid + 1;
    else hi = mid;
  }
  return CLASSES[lo] as number;
}
