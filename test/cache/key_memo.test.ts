import { describe, expect, it } from 'vitest';
import { KeyMemo } from '../../src/cache/key_memo.js';
import { cacheKey } from '../../src/cache/keys.js';

const hash = (i: number) => i.toString(16).padStart(32, '0');

describe('the key memo', () => {
  it('gives each hash the key cacheKey gives it, in each scope', () => {
    const memo = new KeyMemo(64);
    for (const scope of ['ic:f:a:g0:', 'ic:f:b:g0:', 'ic:f:a:g1:']) {
      const key = memo.scoped(scope);
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 100; i++) expect(key(hash(i))).toBe(cacheKey(scope, hash(i)));
      }
    }
  });

  it('keeps contexts apart: the same input in two contexts has two keys', () => {
    const memo = new KeyMemo(16);
    const a = memo.context('a');
    const b = memo.context('b');
    a.set('row', 'key of a');
    expect(a.get('row')).toBe('key of a');
    expect(b.get('row')).toBeUndefined();
    expect(memo.context('a').get('row')).toBe('key of a');
  });

  it('holds at most its number of entries, however many inputs pass through it', () => {
    const memo = new KeyMemo(8);
    const key = memo.scoped('s:');
    for (let i = 0; i < 1000; i++) {
      key(hash(i));
      expect(memo.size).toBeLessThanOrEqual(8);
    }
  });

  it('keeps what was used since the last turn: a hit in the older generation is carried forward', () => {
    const memo = new KeyMemo(4); // two generations of 2
    const m = memo.context('c');
    m.set('a', 'A');
    m.set('b', 'B');
    m.set('c', 'C'); // the current generation was full: {a, b} become the older one, {c} the current
    expect(m.get('a')).toBe('A'); // found in the older one, copied forward: current {c, a}
    m.set('d', 'D'); // full again: {c, a} older, {d} current, {b} dropped
    expect(m.get('b')).toBeUndefined();
    expect(m.get('a')).toBe('A');
    expect(m.get('c')).toBe('C');
  });

  it('finds its maps again after a turn made through another context', () => {
    const memo = new KeyMemo(2);
    const x = memo.context('x');
    const y = memo.context('y');
    x.set('1', 'x1');
    y.set('1', 'y1'); // turns: {x: 1} is the older generation
    y.set('2', 'y2'); // turns again: {y: 1} older, x's entry gone
    expect(x.get('1')).toBeUndefined();
    expect(y.get('1')).toBe('y1');
    expect(x.set('1', 'x1')).toBe('x1');
    expect(x.get('1')).toBe('x1');
  });
});
