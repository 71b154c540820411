import type { TieredCache } from '../cache/tiered.js';
import type { FrameKind } from '../cache/value_frame.js';
import type { Logger } from '../ops/logger.js';
import type { CoherenceMetrics } from '../ops/metrics.js';
import type { Links, NodeLink, RedisDoor } from '../redis/door.js';
import { Bus } from './bus.js';
import { FleetState } from './fleet_state.js';
import type { Change } from './messages.js';
import { scopeKinds } from './scopes.js';
import { Tracking } from './tracking.js';

export interface CoherenceOptions {
  readonly prefix: string;
  readonly logLength: number;
  /** How often the bus log is read for changes pub/sub may have missed. */
  readonly resyncMs: number;
  readonly tracking: boolean;
}

const TRACKED_KINDS: readonly FrameKind[] = ['f'];
const ALL_KINDS: readonly FrameKind[] = ['p', 'f', 'e'];
const INVALIDATE_CHANNEL = '__redis__:invalidate';

/**
 * Keeps this sidecar's L1 coherent with the fleet. Changes arrive over the
 * bus (pub/sub, with the log as truth) and, for writers that bypass the
 * sidecar, from Redis's client tracking. While a coherence link is down,
 * L1 keeps serving (stale by at most its TTL); once a link is back, L1 is
 * not read until the log and the fleet state have been caught up with, so
 * not one answer older than a change acknowledged meanwhile is served after
 * the reconnect.
 */
export class Coherence {
  readonly fleet: FleetState;
  readonly tracking: Tracking;
  readonly #bus: Bus;
  readonly #door: RedisDoor;
  readonly #cache: TieredCache;
  readonly #options: CoherenceOptions;
  readonly #metrics: CoherenceMetrics;
  readonly #log: Logger;
  readonly #onVersion: (model: string) => Promise<void> | void;
  #links: Links | undefined;
  #timer: NodeJS.Timeout | undefined;
  #catchingUp = false;
  #behind = true;
  /** Whether the generations and versions known here are Redis's since the last link went down. */
  #stateFresh = true;
  /** Moves on every link going down: a state read begun before it proves nothing. */
  #downs = 0;
  #stateRead: Promise<void> | undefined;
  /** The version switches the last catch-up or state read asked for, until they are made. */
  #switching: Promise<void> | undefined;

  constructor(
    door: RedisDoor,
    cache: TieredCache,
    options: CoherenceOptions,
    hooks: { onVersion: (model: string) => Promise<void> | void },
    metrics: CoherenceMetrics,
    log: Logger,
  ) {
    this.#door = door;
    this.#cache = cache;
    this.#options = options;
    this.#metrics = metrics;
    this.#log = log.child({ component: 'coherence' });
    this.#onVersion = hooks.onVersion;
    this.fleet = new FleetState(door, options.prefix);
    this.#bus = new Bus(door, { prefix: options.prefix, logLength: options.logLength }, this, this.#log);
    this.tracking = new Tracking(
      TRACKED_KINDS.map((k) => `${options.prefix}:${k}:`),
      options.tracking,
      {
        onKeys: (keys) => {
          this.#metrics.trackedKeys.inc(keys.length);
          // Dropped from L1 only, not marked against writes of ours on their
          // way (TieredCache.changedElsewhere): tracking reports our own
          // writes too, usually before Redis's answer to them, and cannot
          // say whose write a key's report is, so marking would keep every
          // row this sidecar writes out of its own L1.
          this.#dropKeys(keys);
        },
        onLost: () => {
          this.#cache.writesInFlight.changedAll();
          for (const kind of TRACKED_KINDS) this.#cache.l1Cache.clear(kind);
        },
      },
      this.#log,
    );
    // L1 is not read while catching up, nor while Redis answers again but the
    // coherence link has not caught up yet (it reconnects on its own backoff):
    // changes made meanwhile may not have reached L1. Cut off entirely, the
    // sidecar keeps serving L1 (stale by at most the L1 TTL, as documented).
    cache.gateL1(() => !this.#catchingUp && !(this.#behind && this.#door.connected));
    metrics.l1Readable.set(1);
  }

  /** Reads the fleet state and opens the links; without Redis it does nothing. */
  async start(): Promise<void> {
    if (this.#door.mode === 'none') {
      this.#reportTracking();
      return;
    }
    const state = await this.fleet.load();
    if (state !== undefined) this.fleet.adopt(state);
    await this.#bus.start();
    this.#links = this.#door.openLinks({
      onReady: (link) => this.#arm(link),
      onMessage: (channel, payload) => {
        if (channel === this.#bus.channel) this.#bus.onMessage(String(payload));
        else if (channel === INVALIDATE_CHANNEL) this.tracking.onInvalidate(payload);
      },
      onDown: () => {
        this.#behind = true;
        this.#stateFresh = false;
        this.#downs++;
      },
    });
    this.#timer = setInterval(() => void this.#resync(), this.#options.resyncMs);
    this.#timer.unref();
  }

  /**
   * Undefined when the generations and model versions known here can be
   * used: this sidecar's links have not been down since it last read them,
   * or it cannot reach Redis at all (cut off, it serves what it knows).
   * Otherwise Redis answers again but the links have not caught up yet
   * (they reconnect on their own backoff, seconds after the commands can):
   * a version chosen or a scope invalidated meanwhile is not known here,
   * and a call answered now would answer as before it. The promise
   * resolves once they have been read again and any version switch they
   * imply is made; also when Redis did not answer (the call goes on with
   * what is known).
   */
  settled(): Promise<void> | undefined {
    return this.#read() ?? this.#switching;
  }

  /**
   * As settled(), without waiting for version switches: what calls whose
   * keys depend on the generations alone (features) wait for. A model's
   * warm-up before its switch is no business of theirs.
   */
  generationsRead(): Promise<void> | undefined {
    return this.#read();
  }

  #read(): Promise<void> | undefined {
    if (this.#stateFresh || !this.#door.connected) return undefined;
    this.#stateRead ??= this.#readState().finally(() => {
      this.#stateRead = undefined;
    });
    return this.#stateRead;
  }

  /**
   * Announces a change to the fleet, after applying it here unless the
   * caller already brought this sidecar up to date; resolves once Redis
   * took it (the fleet learns of it within the invalidation lag).
   */
  async announce(change: Change, applyHere = true): Promise<void> {
    if (applyHere) this.apply(change, undefined);
    if (this.#door.mode !== 'none') await this.#bus.publish(change);
  }

  apply(change: Change, sentAt: number | undefined): void {
    if (sentAt !== undefined) this.#metrics.lag.observe(Math.max(0, Date.now() - sentAt) / 1000);
    this.#metrics.changes.labels(change.t, sentAt === undefined ? 'log' : 'pubsub').inc();
    switch (change.t) {
      case 'keys':
        this.#cache.changedElsewhere(change.keys, this.#options.prefix.length + 1);
        return;
      case 'generation':
        if (this.fleet.setGeneration(change.scope, change.generation)) this.#dropScope(change.scope);
        return;
      case 'version':
        this.fleet.setVersion(change.model, change.version);
        void this.#onVersion(change.model);
        return;
    }
  }

  lostTrack(): void {
    this.#metrics.catchUps.labels('log_trimmed').inc();
    this.#cache.writesInFlight.changedAll();
    for (const kind of ALL_KINDS) this.#cache.l1Cache.clear(kind);
  }

  close(): void {
    clearInterval(this.#timer);
    this.#links?.close();
  }

  async #arm(link: NodeLink): Promise<void> {
    await this.tracking.arm(link, async () => {
      this.#reportTracking();
      await link.subscribe(this.#bus.channel, INVALIDATE_CHANNEL);
    });
    if (this.#behind) void this.#catchUp();
  }

  /** Reads the log and the fleet state; L1 is skipped until both are in hand. */
  async #catchUp(): Promise<void> {
    const downs = this.#downs;
    this.#setCatchingUp(true);
    const read = await this.#bus.catchUp();
    const state = read ? await this.fleet.load() : undefined;
    if (state === undefined) {
      this.#metrics.catchUps.labels('failed').inc();
      return; // Stays behind; the resync timer tries again.
    }
    this.#adopt(state);
    this.#metrics.catchUps.labels('ok').inc();
    // A link that went down meanwhile may have missed messages this read
    // did not see: still behind, so its re-arm or the resync reads again.
    if (this.#downs === downs) {
      this.#behind = false;
      this.#stateFresh = true;
    }
    this.#setCatchingUp(false);
  }

  async #readState(): Promise<void> {
    const downs = this.#downs;
    const state = await this.fleet.load();
    if (state === undefined) return;
    this.#adopt(state);
    await this.#switching;
    if (this.#downs === downs) this.#stateFresh = true;
  }

  /**
   * Takes what Redis holds: drops the scopes that moved on, and switches
   * the versions chosen meanwhile (settled() waits for those switches).
   */
  #adopt(state: NonNullable<Awaited<ReturnType<FleetState['load']>>>): void {
    const moved = this.fleet.adopt(state);
    for (const scope of moved.generations) this.#dropScope(scope);
    if (moved.versions.length === 0) return;
    const switching = Promise.all(moved.versions.map((model) => this.#onVersion(model))).then(() => {
      if (this.#switching === switching) this.#switching = undefined;
    });
    this.#switching = switching;
  }

  async #resync(): Promise<void> {
    if (this.#catchingUp || this.#behind) {
      if (this.#links?.all().some((l) => l.up)) await this.#catchUp();
      return;
    }
    await this.#bus.catchUp();
  }

  #setCatchingUp(on: boolean): void {
    this.#catchingUp = on;
    this.#metrics.l1Readable.set(on ? 0 : 1);
  }

  #dropKeys(keys: readonly string[]): void {
    const l1 = this.#cache.l1Cache;
    const at = this.#options.prefix.length + 1;
    for (const key of keys) l1.delete(key[at] as FrameKind, key);
  }

  #dropScope(scope: string): void {
    const l1 = this.#cache.l1Cache;
    for (const [kind, prefix] of scopeKinds(this.#options.prefix, scope)) l1.deletePrefix(kind, prefix);
  }

  #reportTracking(): void {
    for (const mode of ['bcast', 'refused', 'off'] as const) {
      this.#metrics.trackingMode.labels(mode).set(this.tracking.mode === mode ? 1 : 0);
    }
  }
}
