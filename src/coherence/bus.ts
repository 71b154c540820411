import { randomUUID } from 'node:crypto';
import { InferCacheError } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import { isFailure, type RedisDoor } from '../redis/door.js';
import { APPEND_AND_PUBLISH } from './bus_scripts.js';
import { type Change, compareIds, decodeEnvelope, type Envelope, encodeEnvelope } from './messages.js';
import { replyMap } from './reply_map.js';

export interface BusOptions {
  /** The key prefix of the fleet: the log is `{prefix}:bus:log`, the channel `{prefix}:bus`. */
  readonly prefix: string;
  /** Entries the log keeps (about: trimmed by whole nodes). */
  readonly logLength: number;
}

export interface BusListener {
  /** Applies a change (idempotent: a change may arrive twice). `sentAt` is undefined when replayed. */
  apply(change: Change, sentAt: number | undefined): void;
  /** The log no longer reaches back to the last change applied: whatever it told of may be missed. */
  lostTrack(): void;
}

interface LogInfo {
  readonly last: string;
  /** The first entry the log still holds; undefined when it holds none. */
  readonly first: string | undefined;
  readonly maxDeleted: string;
  /** Some entry was ever trimmed or deleted. */
  readonly trimmed: boolean;
}

// Entries read per XRANGE while catching up.
const PAGE = 500;
// Ids of changes applied from pub/sub ahead of the log position, remembered
// so a replay does not apply them again; bounded.
const MAX_AHEAD = 50_000;

/**
 * The fleet's bus: pub/sub for speed plus a bounded durable log (a Redis
 * Stream) for truth. Pub/sub is at-most-once: a subscriber that was
 * disconnected misses what was published meanwhile. So the log position is
 * advanced only by reading the log, from the last entry applied: after
 * every reconnect (catchUp), and on a timer (resync) for anything missed
 * while connected. If the log was trimmed past that position, the listener
 * is told to drop what it cannot check.
 */
export class Bus {
  readonly #door: RedisDoor;
  readonly #log: string;
  readonly #channel: string;
  readonly #cap: number;
  readonly #listener: BusListener;
  readonly #logger: Logger;
  /** This sidecar, as the envelopes it sends name it. */
  readonly #self = randomUUID();
  #position = '0-0';
  readonly #ahead = new Set<string>();
  #reading: Promise<boolean> | undefined;

  constructor(door: RedisDoor, options: BusOptions, listener: BusListener, log: Logger) {
    this.#door = door;
    this.#log = `${options.prefix}:bus:log`;
    this.#channel = `${options.prefix}:bus`;
    this.#cap = options.logLength;
    this.#listener = listener;
    this.#logger = log;
  }

  get channel(): string {
    return this.#channel;
  }

  /** Starts at the end of the log: a new process has nothing to drop. False when Redis did not answer. */
  async start(): Promise<boolean> {
    const info = await this.#info();
    if (info === undefined) return false;
    this.#position = info.last;
    return true;
  }

  /** Appends and publishes; resolves with the entry id, or rejects E_UNAVAILABLE when Redis did not take it. */
  async publish(change: Change): Promise<string> {
    const [outcome] = await this.#door.evalMany('bus_publish', APPEND_AND_PUBLISH, [
      { key: this.#log, args: [this.#channel, this.#cap, encodeEnvelope(this.#self, change, Date.now())] },
    ]);
    if (isFailure(outcome) || outcome === undefined) {
      const reason = isFailure(outcome) ? outcome.reason : 'no reply';
      throw new InferCacheError(
        'E_UNAVAILABLE',
        `the change could not be announced to the fleet (Redis: ${reason})`,
      );
    }
    return String(outcome);
  }

  /** A message from the channel: "<entry id> <envelope>". */
  onMessage(text: string): void {
    const space = text.indexOf(' ');
    const id = text.slice(0, space);
    const envelope = decodeEnvelope(text.slice(space + 1));
    if (envelope === undefined || space <= 0) return;
    if (compareIds(id, this.#position) <= 0 || this.#ahead.has(id)) return;
    if (this.#ahead.size < MAX_AHEAD) this.#ahead.add(id);
    if (envelope.from !== this.#self) this.#listener.apply(envelope.change, envelope.at);
  }

  /**
   * Reads the log from the last entry applied and applies what is new.
   * True once it reached the end (and told the listener if the log no
   * longer reached back); false when Redis did not answer. Calls overlap
   * into one read.
   */
  catchUp(): Promise<boolean> {
    this.#reading ??= this.#read().finally(() => {
      this.#reading = undefined;
    });
    return this.#reading;
  }

  async #read(): Promise<boolean> {
    const info = await this.#info();
    if (info === undefined) return false;
    if (this.#lostSince(info)) {
      this.#logger.warn(
        { position: this.#position, firstKept: info.first ?? null },
        'the bus log was trimmed past this sidecar: dropping its L1',
      );
      this.#listener.lostTrack();
      this.#position = info.last;
      this.#ahead.clear();
      return true;
    }
    for (;;) {
      const [page] = await this.#door.run('bus_replay', 'read', [
        { key: this.#log, name: 'XRANGE', args: [this.#log, `(${this.#position}`, '+', 'COUNT', PAGE] },
      ]);
      if (isFailure(page) || !Array.isArray(page)) return false;
      for (const entry of page as [Buffer, Buffer[]][]) {
        const id = entry[0].toString();
        const body = entry[1]?.[1];
        if (!this.#ahead.delete(id) && body !== undefined) {
          const envelope: Envelope | undefined = decodeEnvelope(body.toString());
          if (envelope !== undefined && envelope.from !== this.#self)
            this.#listener.apply(envelope.change, undefined);
        }
        this.#position = id;
      }
      if (page.length < PAGE) break;
    }
    for (const id of this.#ahead) if (compareIds(id, this.#position) <= 0) this.#ahead.delete(id);
    return true;
  }

  /**
   * Whether entries after the position may be gone. Trimming (MAXLEN) does
   * not move max-deleted-entry-id, only XDEL does: the log no longer reaches
   * back when its first entry is past the position. That is also the case
   * when only the position's own entry went, which is taken as a loss too.
   * A sidecar that started before the log existed (position 0-0) lost
   * entries only if any were ever trimmed.
   */
  #lostSince(info: LogInfo): boolean {
    if (compareIds(info.maxDeleted, this.#position) > 0) return true;
    if (info.first === undefined || compareIds(info.first, this.#position) <= 0) return false;
    return this.#position !== '0-0' || info.trimmed;
  }

  /** The log's ends, and what was deleted from it ('0-0' for none, or no log yet). */
  async #info(): Promise<LogInfo | undefined> {
    // XINFO fails on a missing key, which would count as a Redis failure.
    const [exists] = await this.#door.run('bus_info', 'read', [
      { key: this.#log, name: 'EXISTS', args: [this.#log] },
    ]);
    if (isFailure(exists)) return undefined;
    if (exists === 0) return { last: '0-0', first: undefined, maxDeleted: '0-0', trimmed: false };
    const [reply] = await this.#door.run('bus_info', 'read', [
      { key: this.#log, name: 'XINFO', args: ['STREAM', this.#log] },
    ]);
    if (isFailure(reply)) return undefined;
    const info = replyMap(reply);
    const first = info.get('first-entry');
    const added = info.get('entries-added');
    return {
      last: String(info.get('last-generated-id') ?? '0-0'),
      first: Array.isArray(first) && first[0] !== undefined ? String(first[0]) : undefined,
      maxDeleted: String(info.get('max-deleted-entry-id') ?? '0-0'),
      // Before Redis 7 there is no count of entries added: assume some were trimmed.
      trimmed: added === undefined || Number(added) > Number(info.get('length')),
    };
  }
}
