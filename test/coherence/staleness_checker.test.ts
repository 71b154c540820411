import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from '../helpers/redis_server.js';
import { sleep } from '../helpers/requests.js';
import { type Sidecar, stopAllSidecars } from '../helpers/sidecar.js';
import { type FleetFiles, fleetFiles, putLevels, readLevels, startMember } from './fleet.js';

// A staleness checker: writers and readers run at once on all three sidecars
// of a fleet, and every read is checked against the writes acknowledged
// before it started. A read may return an older value than one acknowledged
// only on another sidecar than the writer's, and only until the change
// reaches it (the invalidation lag); on the writer's own sidecar, never.

const ENTITIES = 8;
const WRITES_PER_WRITER = 120;
// Paced, so the run lasts seconds: a sidecar that kept an old value would
// then serve it for longer than LAG_BOUND_MS, which the check below catches.
const WRITE_GAP_MS = 20;
const READERS_PER_SIDECAR = 2;
// Far above the invalidation lag (a few ms on one host), far below what a
// sidecar that missed a change would serve it for (its L1 TTL: minutes).
const LAG_BOUND_MS = 1000;

interface Ack {
  readonly entity: number;
  readonly level: number;
  readonly writer: number;
  readonly at: number;
}

describe('a staleness checker over a three-sidecar fleet', () => {
  const prefix = `stale-${randomBytes(4).toString('hex')}`;
  let redis: RedisServer;
  let files: FleetFiles;
  let fleet: Sidecar[];

  beforeAll(async () => {
    [redis, files] = await Promise.all([startRedis(), fleetFiles()]);
    fleet = await Promise.all([0, 1, 2].map(() => startMember(redis.url, prefix, files)));
  });
  afterAll(async () => {
    await stopAllSidecars();
    await redis?.stop();
  });

  it('never serves an older value than one acknowledged before the read began, beyond the lag on other sidecars', async () => {
    const ids = Array.from({ length: ENTITIES }, (_, e) => `${prefix}-e${e}`);
    const base = Date.now() - 60_000;
    // Levels increase per entity in the order writes are issued, and the
    // event time is the level: the newest write is the highest level.
    let next = 0;
    const acks: Ack[] = [];
    let writing = true;

    const writer = async (w: number) => {
      for (let i = 0; i < WRITES_PER_WRITER; i++) {
        const entity = (w * 7 + i) % ENTITIES;
        const level = ++next;
        await putLevels(fleet[w] as Sidecar, [ids[entity] as string], [level], base + level);
        acks.push({ entity, level, writer: w, at: performance.now() });
        await sleep(WRITE_GAP_MS);
      }
    };
    const reads: { sidecar: number; started: number; levels: number[] }[] = [];
    const reader = async (s: number) => {
      while (writing) {
        const started = performance.now();
        const { levels } = await readLevels(fleet[s] as Sidecar, ids);
        reads.push({ sidecar: s, started, levels });
      }
    };

    const readers = [0, 1, 2].flatMap((s) => Array.from({ length: READERS_PER_SIDECAR }, () => reader(s)));
    await Promise.all([0, 1, 2].map(writer));
    writing = false;
    await Promise.all(readers);

    let stale = 0;
    let staleOnWriter = 0;
    let beyondBound = 0;
    let worstMs = 0;
    for (const read of reads) {
      for (let e = 0; e < ENTITIES; e++) {
        const got = read.levels[e] ?? 0;
        // The newest write of this entity acknowledged before the read began.
        let newest: Ack | undefined;
        for (const a of acks) {
          if (a.entity === e && a.at < read.started && (newest === undefined || a.level > newest.level))
            newest = a;
        }
        if (newest === undefined || got >= newest.level) continue;
        stale++;
        // How long after the newer write's acknowledgement this read began.
        const since = read.started - newest.at;
        worstMs = Math.max(worstMs, since);
        if (read.sidecar === newest.writer) staleOnWriter++;
        if (since > LAG_BOUND_MS) beyondBound++;
      }
    }
    const summary = `${reads.length} reads of ${ENTITIES} entities, ${acks.length} writes; stale ${stale} (worst ${worstMs.toFixed(1)} ms after the newer write's ack), on the writer's sidecar ${staleOnWriter}, beyond ${LAG_BOUND_MS} ms ${beyondBound}`;
    console.log(`staleness checker: ${summary}`);
    expect(reads.length, summary).toBeGreaterThan(100);
    expect(staleOnWriter, summary).toBe(0);
    expect(beyondBound, summary).toBe(0);
    expect(worstMs, summary).toBeLessThanOrEqual(LAG_BOUND_MS);

    // Once the writes have settled, every sidecar answers the newest level of every entity.
    const newest = ids.map((_, e) => Math.max(0, ...acks.filter((a) => a.entity === e).map((a) => a.level)));
    for (const s of fleet) expect((await readLevels(s, ids)).levels).toEqual(newest);
  });
});
