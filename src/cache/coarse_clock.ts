import { performance } from 'node:perf_hooks';

/**
 * A monotonic clock (ms) read at most once per `resolutionMs`: the reading
 * is kept until a timer clears it, so the lookups of one synchronous stretch
 * (a 1,024-row batch answered from L1) share one reading instead of paying
 * for one each (about 2% of such a batch). lru-cache keeps its clock the
 * same way (its ttlResolution). While the event loop is held up the reading
 * is as old as the hold-up: an entry may then be served for that long past
 * its expiry, and one stored then expires that much early.
 */
export function coarseClock(resolutionMs = 1, source: () => number = () => performance.now()): () => number {
  let reading: number | undefined;
  const clear = () => {
    reading = undefined;
  };
  return () => {
    if (reading === undefined) {
      reading = source();
      setTimeout(clear, resolutionMs).unref();
    }
    return reading;
  };
}
