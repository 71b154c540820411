import { cacheKey } from './keys.js';

/** The key of a hash under one scope (cache/keys.ts cacheKey), made once per request. */
export type ScopedKey = (hash: string) => string;

/**
 * The keys remembered in one context: an input (a string standing for
 * bytes, or an entity id that does: features/entity_keys.ts) to its key.
 */
export interface ContextMemo {
  get(input: string | number | bigint): string | undefined;
  /** Remembers `key` for `input`, and returns it. */
  set(input: string | number | bigint, key: string): string;
}

// About 10 MB at most: each entry holds its input (a 32-digit hash, or up to
// 64 bytes of a row) and a key of ~70 characters. Enough for the rows a busy
// sidecar hits again within a few thousand requests of 1,000 rows.
const KEY_MEMO_ENTRIES = 65_536;

/**
 * Remembers the key each input was given in each context, so a row hit
 * again gets the very string it got last time. That string's hash code is
 * already computed and it is flat, so the L1 lookup it feeds is a cheap Map
 * probe; a key built anew is a cons string L1's Map must flatten and hash
 * (~70 characters) on every lookup. The key_hash benchmark times a row's way
 * to its L1 hit both ways (remembered/built: 0.42 for an iris row, 0.55 for
 * an entity key).
 *
 * The context is what the key depends on besides the input: a key scope
 * when the input is a hash (`scoped`), or a scope and the fixed part of the
 * bytes a prediction row is hashed over when the input is the rest of them
 * (predict/row_keys.ts), which then skips hashing as well.
 *
 * Bounded by two generations (hashlru's scheme) rather than lru-cache: a
 * hit costs one Map.get and no bookkeeping, which is the whole point, and
 * lru-cache's get costs about what it would save. New entries go into the
 * current generation; when that holds half the entries it becomes the
 * previous one, and the one before is dropped; a hit in the previous one is
 * copied forward. A key is a pure function of its context and input, so a
 * remembered one is never wrong, only possibly forgotten.
 */
export class KeyMemo {
  #current = new Map<string, Map<string | number | bigint, string>>();
  #previous = new Map<string, Map<string | number | bigint, string>>();
  #entries = 0;
  // Bumped when the generations turn: a ContextMemo then finds its maps again.
  #turns = 0;
  readonly #half: number;

  constructor(entries = KEY_MEMO_ENTRIES) {
    this.#half = Math.max(1, Math.floor(entries / 2));
  }

  /** Entries held in both generations. */
  get size(): number {
    let n = 0;
    for (const m of this.#current.values()) n += m.size;
    for (const m of this.#previous.values()) n += m.size;
    return n;
  }

  /** A key maker for hashes under `scope`: made once per request (or per scope), called once per row. */
  scoped(scope: string): ScopedKey {
    const memo = this.context(scope);
    return (hash) => memo.get(hash) ?? memo.set(hash, cacheKey(scope, hash));
  }

  /** The memo of one context: made once per request, used once per row. */
  context(context: string): ContextMemo {
    let turn = -1;
    let current = new Map<string | number | bigint, string>();
    let previous: Map<string | number | bigint, string> | undefined;
    const find = () => {
      turn = this.#turns;
      current = this.#mapOf(context);
      previous = this.#previous.get(context);
    };
    const memo: ContextMemo = {
      get: (input) => {
        if (turn !== this.#turns) find();
        const known = current.get(input);
        if (known !== undefined || previous === undefined) return known;
        const old = previous.get(input);
        return old === undefined ? undefined : memo.set(input, old);
      },
      set: (input, key) => {
        if (turn !== this.#turns) find();
        if (this.#entries >= this.#half) {
          this.#turn();
          find();
        }
        current.set(input, key);
        this.#entries++;
        return key;
      },
    };
    return memo;
  }

  #mapOf(context: string): Map<string | number | bigint, string> {
    let m = this.#current.get(context);
    if (m === undefined) {
      m = new Map();
      this.#current.set(context, m);
    }
    return m;
  }

  #turn(): void {
    this.#previous = this.#current;
    this.#current = new Map();
    this.#entries = 0;
    this.#turns++;
  }
}
