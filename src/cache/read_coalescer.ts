import type { RedisDoor } from '../redis/door.js';

type Answer = (Buffer | null | undefined)[];

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
 * (its signal fires) gets undefined for its keys, as the door answers a
 * cancelled read; the others' read goes on. Not a library's: ioredis's
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
    return new Promise<Answer>((resolve) => {
      this.#waiting.push({ keys, resolve, signal });
      if (this.#waiting.length === 1) setImmediate(() => void this.#send());
    });
  }

  async #send(): Promise<void> {
    const waiting = this.#waiting;
    this.#waiting = [];
    const live = waiting.filter((w) => {
      if (!w.signal?.aborted) return true;
      w.resolve(unanswered(w.keys.length));
      return false;
    });
    if (live.length === 0) return;
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
    const pending = live.map((w) => leaveOnAbort(w));
    const values = await this.#door.getMany(this.#op, keys);
    live.forEach((w, n) => {
      pending[n]?.();
      w.resolve((where[n] as number[]).map((i) => values[i]));
    });
  }
}

/** Resolves `w` with no answers as soon as its signal fires; returns the listener's removal. */
function leaveOnAbort(w: Waiting): (() => void) | undefined {
  const signal = w.signal;
  if (signal === undefined) return undefined;
  const onAbort = () => w.resolve(unanswered(w.keys.length));
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

function unanswered(n: number): Answer {
  return new Array<Buffer | null | undefined>(n).fill(undefined);
}
