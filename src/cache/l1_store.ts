/** One kind's part of L1. */
export interface L1Store<V> {
  get(key: string): V | undefined;
  /**
   * Every key's value, in order, or undefined unless the store holds all of
   * them and `accept` takes each: a request L1 answers entirely, at once.
   */
  getAll(keys: readonly string[], accept?: (value: V, key: string) => boolean): V[] | undefined;
  /** Keeps `value` for `ttlMs`; a lifetime under 1 ms keeps nothing (and drops what `key` held). */
  set(key: string, value: V, ttlMs: number): void;
  delete(key: string): void;
  /** Drops every entry whose key starts with `prefix`; returns how many. */
  deletePrefix(prefix: string): number;
  clear(): void;
  readonly size: number;
  readonly bytes: number;
}
