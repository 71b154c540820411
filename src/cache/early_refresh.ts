const NEVER_DUE_FACTOR = 37;

/**
 * Probabilistic early refresh (XFetch: Vattani, Chierichetti and Lowenstein,
 * "Optimal Probabilistic Cache Stampede Prevention", VLDB 2015). A value
 * read at `now` is recomputed in the background when
 *
 *     now - delta * beta * ln(u) >= expiresAt,   u uniform in (0, 1]
 *
 * where delta is what a recomputation costs (ms). Far from expiry this is
 * almost never true; it becomes likely as expiry nears, the sooner the
 * dearer the recomputation, so a popular entry is refreshed by one reader
 * shortly before it would expire, and its readers never meet a miss at
 * once. beta > 1 refreshes earlier; 0 turns it off.
 *
 * Every cached row of every call is looked at, so a row that cannot be due
 * is passed over without drawing a number: 1 - random() is at least 2^-53
 * (Math.random's granularity), so -ln(u) is at most 53 ln 2 (36.7), and a
 * row further than NEVER_DUE_FACTOR × delta × beta from expiry never is.
 */
export function refreshDue(
  now: number,
  expiresAt: number,
  deltaMs: number,
  beta: number,
  random: () => number = Math.random,
): boolean {
  if (!(beta > 0) || !(deltaMs > 0)) return false;
  if (expiresAt - now > deltaMs * beta * NEVER_DUE_FACTOR) return false;
  // 1 - random() is in (0, 1]: ln never sees 0.
  return now - deltaMs * beta * Math.log(1 - random()) >= expiresAt;
}

/** A moving average of how long something takes (ms), for refreshDue's delta. */
export class CostAverage {
  #ms: number;
  readonly #weight: number;

  /** `initialMs` until the first sample; each new sample weighs `weight`. */
  constructor(initialMs: number, weight = 0.2) {
    this.#ms = initialMs;
    this.#weight = weight;
  }

  add(ms: number): void {
    if (Number.isFinite(ms) && ms >= 0) this.#ms += (ms - this.#ms) * this.#weight;
  }

  get ms(): number {
    return this.#ms;
  }
}
