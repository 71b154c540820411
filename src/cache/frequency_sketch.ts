/**
 * A count-min sketch of 4-bit counters with periodic halving, after
 * Caffeine's FrequencySketch: how often a key was seen recently, in fixed
 * memory. Each key touches four counters (one per row, in one 64-byte
 * block, so a lookup stays in one cache line); its estimate is the least of
 * them. Counters stop at 15. After `sampleSize` increments every counter is
 * halved, so the counts age: what was popular an hour ago fades.
 * Hand-written: the npm count-min sketches found keep 32-bit counts and no
 * aging, which is four times the memory and never forgets.
 *
 * Keys are given as 32-bit hashes (our cache keys end in a 128-bit hash
 * already; take any 32 bits of it).
 */
export class FrequencySketch {
  readonly #table: Uint32Array;
  readonly #blockMask: number;
  readonly #sampleSize: number;
  #additions = 0;
  #onHalve: () => void = () => {};

  /**
   * `capacity`: about how many distinct keys it must tell apart;
   * `sampleSize`: increments between two halvings (10 × capacity by default).
   */
  constructor(capacity: number, sampleSize = 10 * Math.max(capacity, 16)) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer');
    // One 32-bit word holds 8 counters; a block is 16 words (64 bytes); at
    // least one counter per row per key of capacity.
    const words = Math.max(16, nextPowerOfTwo(Math.ceil(capacity / 2)));
    this.#table = new Uint32Array(words);
    this.#blockMask = words / 16 - 1;
    this.#sampleSize = sampleSize;
  }

  /** Called after every halving (a top-K of estimates ages with the counters). */
  onHalve(listener: () => void): void {
    this.#onHalve = listener;
  }

  /** Bytes of counters held. */
  get bytes(): number {
    return this.#table.byteLength;
  }

  /** The estimated recent frequency of `hash` (0 to 15). */
  frequency(hash: number): number {
    const block = this.#block(hash);
    const h = counterHash(hash);
    let min = 15;
    for (let row = 0; row < 4; row++) {
      const bits = h >>> (row * 8);
      const count =
        ((this.#table[block + row * 4 + (bits & 3)] as number) >>> (((bits >>> 2) & 7) * 4)) & 0xf;
      if (count < min) min = count;
    }
    return min;
  }

  /** Counts one more sighting of `hash`; returns its new estimate. */
  increment(hash: number): number {
    const block = this.#block(hash);
    const h = counterHash(hash);
    let added = false;
    let min = 15;
    for (let row = 0; row < 4; row++) {
      // 4 words per row within the block, 8 counters per word: a byte of
      // the counter hash per row picks the word (2 bits) and the counter (3).
      const bits = h >>> (row * 8);
      const word = block + row * 4 + (bits & 3);
      const shift = ((bits >>> 2) & 7) * 4;
      const value = this.#table[word] as number;
      let count = (value >>> shift) & 0xf;
      if (count < 15) {
        this.#table[word] = (value + (1 << shift)) >>> 0;
        count++;
        added = true;
      }
      if (count < min) min = count;
    }
    if (added && ++this.#additions >= this.#sampleSize) this.#halve();
    return min;
  }

  /** Every counter halved (4-bit lanes shifted right, the bit that crosses a lane dropped). */
  #halve(): void {
    const t = this.#table;
    for (let i = 0; i < t.length; i++) t[i] = ((t[i] as number) >>> 1) & 0x77777777;
    this.#additions = Math.floor(this.#additions / 2);
    this.#onHalve();
  }

  #block(hash: number): number {
    return (fmix(hash) & this.#blockMask) * 16;
  }
}

/**
 * The bits that pick each row's counter: mixed apart from the block's bits,
 * and one byte per row, so two keys that share a counter in one row seldom
 * share it in the others. (Rows hashed as (hash + seed) * constant would
 * not do: two keys' difference, and so whether their top bits agree, is the
 * same in every row, and a one-time key then inherits a hot key's count.)
 */
function counterHash(hash: number): number {
  return fmix((hash ^ 0x9e3779b9) >>> 0);
}

/** MurmurHash3's 32-bit finaliser: every input bit moves about half the output bits. */
function fmix(x: number): number {
  let h = x;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function nextPowerOfTwo(n: number): number {
  return 2 ** Math.ceil(Math.log2(n));
}
