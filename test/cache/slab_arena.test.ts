import { describe, expect, it } from 'vitest';
import { SLAB_BYTES, SlabArena, type Slot } from '../../src/cache/slab_arena.js';

describe('SlabArena', () => {
  it('gives a freed slot to the next value of its size class', () => {
    const arena = new SlabArena();
    const a = arena.alloc(100);
    arena.alloc(100);
    arena.free(a.slab, a.offset);
    const b = arena.alloc(100);
    expect(b).toEqual(a);
    expect(arena.reservedBytes).toBe(SLAB_BYTES);
  });

  it('rounds a value up to its class by at most an eighth', () => {
    for (const length of [1, 17, 65, 100, 1000, 5000, 100_000]) {
      const slot = SlabArena.slotBytes(length);
      expect(slot).toBeGreaterThanOrEqual(length);
      expect(slot).toBeLessThanOrEqual(Math.max(16, length * 1.125 + 16));
    }
  });

  it('never lets two live values share a byte, through many allocations and frees', () => {
    const arena = new SlabArena();
    const live = new Map<number, { slot: Slot; length: number }>();
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let i = 0; i < 20_000; i++) {
      if (live.size > 0 && random() % 3 === 0) {
        const [id, { slot }] = live.entries().next().value as [number, { slot: Slot; length: number }];
        arena.free(slot.slab, slot.offset);
        live.delete(id);
        continue;
      }
      const length = 1 + (random() % 3000);
      const slot = arena.alloc(length);
      arena.buffer(slot.slab).fill(i & 0xff, slot.offset, slot.offset + length);
      live.set(i, { slot, length });
    }
    for (const [i, { slot, length }] of live) {
      const bytes = arena.buffer(slot.slab).subarray(slot.offset, slot.offset + length);
      expect(bytes.every((b) => b === (i & 0xff))).toBe(true);
    }
  });

  it('gives back the slabs it no longer needs, keeping two spares', () => {
    const arena = new SlabArena();
    const slots: Slot[] = [];
    // About 4 slabs of 1,000-byte values, then one of 100-byte values.
    for (let i = 0; i < 4000; i++) slots.push(arena.alloc(1000));
    for (let i = 0; i < 1000; i++) slots.push(arena.alloc(100));
    expect(arena.reservedBytes).toBe(5 * SLAB_BYTES);
    for (const s of slots) arena.free(s.slab, s.offset);
    expect(arena.reservedBytes).toBe(2 * SLAB_BYTES);
    arena.alloc(100);
    arena.alloc(1000);
    expect(arena.reservedBytes).toBe(2 * SLAB_BYTES);
  });

  it('gives a value over an eighth of a slab a buffer of its own, released when freed', () => {
    const arena = new SlabArena();
    const big = arena.alloc(SLAB_BYTES / 2);
    expect(arena.buffer(big.slab).length).toBe(SLAB_BYTES / 2);
    expect(arena.reservedBytes).toBe(SLAB_BYTES / 2);
    arena.free(big.slab, big.offset);
    expect(arena.reservedBytes).toBe(0);
  });
});
