/** When a model version stops being cached (see AutoBypass). */
export interface AutoBypassSettings {
  /** Below this share of rows answered from L1 or L2 a window counts as poor; 0 turns auto-bypass off. */
  readonly hitRatio: number;
  /** Rows a window holds before it is judged. */
  readonly windowRows: number;
  /** How long a bypass lasts before the version is cached again for one window. */
  readonly recheckMs: number;
  /** A run counts as cheap when it costs less than this many L2 round trips. */
  readonly roundTrips: number;
}

/** What caching and running cost, as measured (ms); injected so tests choose them. */
export interface AutoBypassCosts {
  /** What one run of the version costs. */
  runMs(): number;
  /** What one L2 lookup round trip costs; undefined with no L2 (or none measured yet). */
  roundTripMs(): number | undefined;
}

/**
 * Whether one model version is worth caching. Rows are counted in windows
 * of `windowRows`; at the end of a window whose hit ratio is below the
 * threshold while a run costs less than `roundTrips` L2 round trips, the
 * version is bypassed: a miss pays a lookup round trip before the run and a
 * write after it, which a version that almost never hits only loses on.
 * After `recheckMs` it is cached again for one window, whose ratio decides
 * anew. Without an L2 there is no round trip to save, so it never bypasses:
 * an L1 lookup costs far less than any run.
 */
export class AutoBypass {
  readonly #settings: AutoBypassSettings;
  readonly #costs: AutoBypassCosts;
  readonly #now: () => number;
  readonly #changed: (bypassed: boolean) => void;
  #asked = 0;
  #hits = 0;
  /** While bypassed, when the next window starts; undefined while cached. */
  #until: number | undefined;

  constructor(
    settings: AutoBypassSettings,
    costs: AutoBypassCosts,
    now: () => number,
    changed: (bypassed: boolean) => void = () => {},
  ) {
    this.#settings = settings;
    this.#costs = costs;
    this.#now = now;
    this.#changed = changed;
  }

  /** True from the window that decided a bypass until the first request past its recheck time. */
  get bypassed(): boolean {
    return this.#until !== undefined;
  }

  /** Whether a request should skip the cache now; the first one past the recheck time starts a window. */
  bypassing(): boolean {
    if (this.#until === undefined) return false;
    if (this.#now() < this.#until) return true;
    this.#until = undefined;
    this.#changed(false);
    return false;
  }

  /** Counts the rows of one cached request: `asked` looked up, `hits` answered from L1 or L2. */
  observe(asked: number, hits: number): void {
    if (this.#until !== undefined) return;
    this.#asked += asked;
    this.#hits += hits;
    if (this.#asked < this.#settings.windowRows) return;
    const ratio = this.#hits / this.#asked;
    this.#asked = 0;
    this.#hits = 0;
    if (ratio >= this.#settings.hitRatio || !this.#cheap()) return;
    this.#until = this.#now() + this.#settings.recheckMs;
    this.#changed(true);
  }

  #cheap(): boolean {
    const roundTrip = this.#costs.roundTripMs();
    if (roundTrip === undefined) return false;
    return this.#costs.runMs() < roundTrip * this.#settings.roundTrips;
  }
}
