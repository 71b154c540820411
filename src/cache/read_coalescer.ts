import type { RedisDoor } from '../redis/door.js';
import { leaveOnAbort } from '../redis/node_gate.js';

type Answer = (Buffer | null | undefined)[];

/** Most keys of one read shared by several calls (a call with more reads alone). */
const MAX_SHARED_KEYS = 4096;

interface Waiting {
  readonly keys: readonly string[];
  readonly resolve: (values: Answer) => void;
  readonly signal: AbortSignal | undefined;
}

/**
 * L2 batch reads of concurrent calls, coalesced: every read asked for in
 * one turn of the event loop goes to the door as one batch (setImmediate),
 * so 64 concurrent misses make one MGET per node rather than 64, and Redis
 * and this process parse one reply instead of many. A caller that gives up
 * (its signal fires) gets undefined for its keys at once, as the door
 * answers a cancelled read; the others' read goes on. Not a library's: ioredis's
 * auto-pipelining joins the commands of a tick in one write but still sends
 * one MGET per call, and we need the door's per-node grouping and gates.
 */
export class ReadCoalescer {
  readonly #door: RedisDoor;
  readonly #op: string;
  #waiting: Waiting[] = [];

  constructor(door: RedisDoor, op: string) {
    this.#door = door;
    this.#op = op;
  }

  read(keys: readonly string[], signal?: AbortSignal): Promise<Answer> {
    if (signal?.aborted) return Promise.resolve(unanswered(keys.length));
    const answer = new Promise<Answer>((resolve) => {
      this.#waiting.push({ keys, resolve, signal });
      if (this.#waiting.length === 1) setImmediate(() => void this.#send());
    });
    return signal === undefined ? answer : leaveOnAbort(answer, signal, () => unanswered(keys.length));
  }

  async #send(): Promise<void> {
    const waiting = this.#waiting;
    this.#waiting = [];
    // A caller that gave up meanwhile has had its answer (read()); its keys are not read.
    const live = waiting.filter((w) => !w.signal?.aborted);
    if (live.length === 0) return;
    // Calls join a shared read up to MAX_SHARED_KEYS keys in all: a few
    // calls of 10,000 keys each would otherwise make one read whose
    // bookkeeping (the map of keys below) holds the event loop in one piece.
    let group: Waiting[] = [];
    let keys = 0;
    const reads: Promise<void>[] = [];
    for (const w of live) {
      if (group.length > 0 && keys + w.keys.length > MAX_SHARED_KEYS) {
        reads.push(this.#read(group));
        group = [];
        keys = 0;
      }
      group.push(w);
      keys += w.keys.length;
    }
    reads.push(this.#read(group));
    await Promise.all(reads);
  }

  /** One door read for the calls of `live`. */
  async #read(live: readonly Waiting[]): Promise<void> {
    if (live.length === 1) {
      const only = live[0] as Waiting;
      only.resolve(await this.#door.getMany(this.#op, only.keys, only.signal));
      return;
    }
    // A key several calls ask for is read once.
    const keys: string[] = [];
    const at = new Map<string, number>();
    const where = live.map((w) =>
      w.keys.map((key) => {
        let i = at.get(key);
        if (i === undefined) {
          i = keys.length;
          at.set(key, i);
          keys.push(key);
        }
        return i;
      }),
    );
    const values = await this.#door.getMany(this.#op, keys);
    live.forEach((w, n) => {
      w.resolve((where[n] as number[]).map((i) => values[i]));
    });
  }
}

function unanswered(n: number): Answer {
  return new Array<Buffer | null | undefined>(n).fill(undefined);
}
