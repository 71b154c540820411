import { describe, expect, it } from 'vitest';
import {
  MAX_SLAB_BYTES,
  RECORD_HEADER_BYTES,
  SlabArena,
  type Slot,
  slabBytesFor,
} from '../../src/cache/slab_arena.js';

/** An arena whose owners are told where their bytes moved: `where` is what a store keeps. */
function tracked(boundBytes: number) {
  const where = new Map<number, Slot>();
  const arena = new SlabArena(boundBytes, (owner, slab, offset) => {
    where.set(owner, { slab, offset });
  });
  return { arena, where };
}

function lcg(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
}

describe('SlabArena', () => {
  it('sizes its slabs to the bound: at most 1/256 of it, and 1 MiB at most', () => {
    expect(slabBytesFor(2 ** 30)).toBe(MAX_SLAB_BYTES);
    expect(slabBytesFor(64 * 2 ** 20)).toBe(256 * 1024);
    expect(slabBytesFor(2 ** 20)).toBe(4096);
    for (const bound of [1e5, 3e6, 5e7, 1e9]) {
      const arena = new SlabArena(bound, () => {});
      expect(arena.slabBytes).toBeLessThanOrEqual(bound / 256);
      expect(arena.maxReservedBytes).toBeLessThanOrEqual(bound * 1.016);
    }
  });

  it('packs values of any size one after another, each after its header', () => {
    const { arena } = tracked(1 << 24);
    const a = arena.alloc(1, 100);
    const b = arena.alloc(2, 37);
    const c = arena.alloc(3, 1);
    expect(a).toEqual({ slab: a.slab, offset: RECORD_HEADER_BYTES });
    expect(b).toEqual({ slab: a.slab, offset: 2 * RECORD_HEADER_BYTES + 100 });
    expect(c.offset).toBe(3 * RECORD_HEADER_BYTES + 137);
    expect(arena.reservedBytes).toBe(arena.slabBytes);
    expect(SlabArena.recordBytes(100)).toBe(100 + RECORD_HEADER_BYTES);
  });

  it('takes back the room of the last value at once (a candidate the policy turned away)', () => {
    const { arena } = tracked(1 << 24);
    arena.alloc(1, 100);
    const b = arena.alloc(2, 200);
    arena.free(b.slab, b.offset);
    expect(arena.alloc(3, 50)).toEqual(b);
  });

  it('never lets two live values share a byte, through many allocations, frees and moves', () => {
    const bound = 4 << 20;
    const { arena, where } = tracked(bound);
    const lengths = new Map<number, number>();
    let liveBytes = 0;
    const random = lcg(7);
    for (let i = 0; i < 60_000; i++) {
      // Free at random while the values (with headers) would pass the bound, as a store's policy does.
      while (lengths.size > 0 && (liveBytes > bound * 0.9 || random() % 3 === 0)) {
        const owners = [...lengths.keys()];
        const owner = owners[random() % owners.length] as number;
        const slot = where.get(owner) as Slot;
        arena.free(slot.slab, slot.offset);
        liveBytes -= SlabArena.recordBytes(lengths.get(owner) as number);
        lengths.delete(owner);
        where.delete(owner);
        if (random() % 2 === 0) break;
      }
      const length = 1 + (random() % 3000);
      const slot = arena.alloc(i, length);
      arena.buffer(slot.slab).fill(i & 0xff, slot.offset, slot.offset + length);
      where.set(i, slot);
      lengths.set(i, length);
      liveBytes += SlabArena.recordBytes(length);
      arena.trim();
      expect(arena.reservedBytes).toBeLessThanOrEqual(arena.maxReservedBytes);
    }
    for (const [owner, length] of lengths) {
      const slot = where.get(owner) as Slot;
      const bytes = arena.buffer(slot.slab).subarray(slot.offset, slot.offset + length);
      expect(bytes.every((b) => b === (owner & 0xff))).toBe(true);
    }
  });

  it('moves the live values out of slabs left with holes, and gives those slabs back', () => {
    const bound = 1 << 24;
    const { arena, where } = tracked(bound);
    const length = 100;
    const perSlab = Math.floor(arena.slabBytes / SlabArena.recordBytes(length));
    // Fill well past the bound, keeping one value in 64 of the older ones: every slab holds a few.
    const n = Math.ceil((1.5 * bound) / SlabArena.recordBytes(length));
    for (let i = 0; i < n; i++) {
      const slot = arena.alloc(i, length);
      arena.buffer(slot.slab).writeInt32LE(i, slot.offset);
      where.set(i, slot);
      const old = i - perSlab;
      if (old >= 0 && old % 64 !== 0) {
        const s = where.get(old) as Slot;
        arena.free(s.slab, s.offset);
        where.delete(old);
      }
      arena.trim();
    }
    // Without moves every slab would still be held (one value in 64 pins each), 1.5 times the bound.
    expect((n / perSlab) * arena.slabBytes).toBeGreaterThan(1.4 * bound);
    expect(arena.reservedBytes).toBeLessThanOrEqual(arena.maxReservedBytes);
    expect(arena.maxReservedBytes).toBeLessThan(1.02 * bound);
    for (const [owner, slot] of where) expect(arena.buffer(slot.slab).readInt32LE(slot.offset)).toBe(owner);
  });

  it('gives a value over 1/128 of a slab an exact buffer of its own, released when freed', () => {
    const { arena } = tracked(1 << 24);
    const big = arena.alloc(1, arena.slabBytes / 64);
    expect(arena.buffer(big.slab).length).toBe(arena.slabBytes / 64);
    expect(arena.reservedBytes).toBe(arena.slabBytes / 64);
    arena.free(big.slab, big.offset);
    expect(arena.reservedBytes).toBe(0);
  });

  it('keeps one emptied slab for the next, and gives it back first when over its limit', () => {
    const { arena } = tracked(1 << 24);
    const perSlab = Math.floor(arena.slabBytes / SlabArena.recordBytes(100));
    const slots = Array.from({ length: perSlab + 1 }, (_, i) => arena.alloc(i, 100));
    expect(arena.reservedBytes).toBe(2 * arena.slabBytes);
    for (const s of slots.slice(0, perSlab)) arena.free(s.slab, s.offset);
    expect(arena.reservedBytes).toBe(2 * arena.slabBytes);
    for (let i = 0; i < perSlab; i++) arena.alloc(100 + i, 100);
    expect(arena.reservedBytes).toBe(2 * arena.slabBytes);
  });
});
