import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PredictResponse } from '../helpers/client.js';
import { FS, freshIds, ST, stringIds } from '../helpers/features.js';
import { inconsistentRows, installVersion, scaleModel, scaleRequest } from '../helpers/model_versions.js';
import { redisCommand } from '../helpers/redis_command.js';
import { type RedisServer, startRedis } from '../helpers/redis_server.js';
import { eventually, irisRows, SRC } from '../helpers/requests.js';
import { type Sidecar, stopAllSidecars } from '../helpers/sidecar.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp_proxy.js';
import {
  CUT_OFF_USER,
  CUT_OFF_USER_ACL,
  type FleetFiles,
  fleetFiles,
  invalidate,
  metric,
  metricReaches,
  predictSources,
  putLevels,
  readLevels,
  SMALLEST_LOG_LENGTH,
  startMember,
  USER,
} from './fleet.js';

const B_USER = CUT_OFF_USER.name;

describe('a sidecar that missed fleet changes while cut off from Redis', () => {
  const prefix = `miss-${randomBytes(4).toString('hex')}`;
  let redis: RedisServer;
  let proxy: TcpProxy;
  let files: FleetFiles;
  /** Connected directly; makes the changes. */
  let a: Sidecar;
  /** Connected through the proxy; client tracking off, so only the bus can tell it of changes. */
  let b: Sidecar;
  /** Connected directly; chooses model versions for the fleet. */
  let c: Sidecar;

  beforeAll(async () => {
    [redis, files] = await Promise.all([startRedis(), fleetFiles()]);
    await redisCommand(redis.port, CUT_OFF_USER_ACL);
    proxy = await startTcpProxy(redis.port);
    // scale: every answer tells which version computed it (y = x * version).
    for (const v of [1, 2]) await installVersion(files.models, 'scale', String(v), scaleModel(v));
    const env = { INFERCACHE_BUS_LOG_LENGTH: SMALLEST_LOG_LENGTH, INFERCACHE_CLIENT_TRACKING: 'off' };
    const bUrl = `redis://${B_USER}:${CUT_OFF_USER.password}@127.0.0.1:${proxy.port}`;
    [a, b, c] = await Promise.all([
      startMember(redis.url, prefix, files, env),
      startMember(bUrl, prefix, files, env),
      startMember(redis.url, prefix, files, env),
    ]);
  });
  // A test that failed while B was cut off must not leave the next one without Redis.
  afterEach(() => proxy?.restore());
  afterAll(async () => {
    await stopAllSidecars();
    await proxy?.close();
    await redis?.stop();
  });

  /** Cuts B off and waits until it knows. */
  async function cutB(): Promise<void> {
    proxy.cut();
    await metricReaches(b, 'infercache_redis_node_connected', {}, 0);
  }

  async function inL1(s: Sidecar, ids: string[], rows: number[][]): Promise<void> {
    await eventually('the rows in L1', async () => {
      const features = (await readLevels(s, ids)).sources.every((x) => x === FS.L1);
      const predictions = (await predictSources(s, rows, '1')).every((x) => x === SRC.L1);
      return features && predictions && (await predictSources(s, rows, '2')).every((x) => x === SRC.L1)
        ? true
        : undefined;
    });
  }

  it('replays the log from its last entry once back: no old answer after the catch-up, and nothing else dropped', async () => {
    const [changed, gone, kept] = freshIds(3, 'miss') as [string, string, string];
    const rows = irisRows(2);
    await putLevels(a, [changed, gone, kept], [1, 1, 1], Date.now() - 1000);
    await inL1(b, [changed, gone, kept], rows);

    await cutB();
    await putLevels(a, [changed], [2]);
    await invalidate(a, { view: { view: 'users', entities: stringIds(USER, [gone]) } });
    await invalidate(a, { model: { model: 'iris', version: '1' } });
    // Cut off, B still answers from its L1: the old row, within its L1 TTL.
    expect(await readLevels(b, [changed])).toMatchObject({ levels: [1], sources: [FS.L1] });
    const caughtUp = await metric(b, 'infercache_coherence_catch_ups_total', { result: 'ok' });
    const fromLog = await metric(b, 'infercache_coherence_changes_total', { type: 'keys', via: 'log' });

    proxy.restore();
    await eventually(
      'B to catch up',
      async () =>
        (await metric(b, 'infercache_coherence_catch_ups_total', { result: 'ok' })) > caughtUp
          ? true
          : undefined,
      20_000,
    );
    expect(await readLevels(b, [changed])).toMatchObject({ levels: [2], statuses: [ST.PRESENT] });
    expect((await readLevels(b, [gone])).statuses).toEqual([ST.NOT_FOUND]);
    expect((await predictSources(b, rows, '1')).some((x) => x === SRC.L1)).toBe(false);
    // What did not change is still served from L1: B replayed, it did not start over.
    expect(await readLevels(b, [kept])).toMatchObject({ levels: [1], sources: [FS.L1] });
    expect(await predictSources(b, rows, '2')).toEqual([SRC.L1, SRC.L1]);
    expect(await metric(b, 'infercache_coherence_changes_total', { type: 'keys', via: 'log' })).toBe(
      fromLog + 2,
    );
    expect(await metric(b, 'infercache_coherence_catch_ups_total', { result: 'log_trimmed' })).toBe(0);
  });

  it('once back, serves not one answer older than what the fleet did meanwhile: a version chosen, a version invalidated, rows written and invalidated', async () => {
    const [changed, gone] = freshIds(2, 'three') as [string, string];
    const current = irisRows(2);
    const pinned = irisRows(2);
    const scale = (rows: number[][], version = '') => b.client.predict(scaleRequest('scale', rows, version));
    await putLevels(a, [changed, gone], [1, 1], Date.now() - 1000);
    await eventually('the rows in the L1 of B', async () => {
      const features = (await readLevels(b, [changed, gone])).sources.every((x) => x === FS.L1);
      const now = await scale(current);
      const one = await scale(pinned, '1');
      const inL1 = [...now.row_sources, ...one.row_sources].every((x) => x === SRC.L1);
      return features && inL1 && now.version === '2' ? true : undefined;
    });

    await cutB();
    // Through C: the fleet now serves version 1 of scale. Through A: version
    // 1's cached answers invalidated, one row written, one invalidated.
    await c.client.unary('ActivateModel', { model: 'scale', version: '1' });
    await invalidate(a, { model: { model: 'scale', version: '1' } });
    await putLevels(a, [changed], [2]);
    await invalidate(a, { view: { view: 'users', entities: stringIds(USER, [gone]) } });
    expect((await c.client.predict(scaleRequest('scale', current))).version).toBe('1');
    // Cut off, B answers as it knew: version 2, the old rows.
    expect((await scale(current)).version).toBe('2');
    expect(await readLevels(b, [changed, gone])).toMatchObject({ levels: [1, 1], sources: [FS.L1, FS.L1] });
    const caughtUp = await metric(b, 'infercache_coherence_catch_ups_total', { result: 'ok' });

    // B's answers in the order it gave them, each with what in it is older
    // than what the fleet did meanwhile (a call answers as one: at once).
    const answers: { call: number; old: string[] }[] = [];
    const inconsistent: number[] = [];
    const answer = async () => {
      const rows = await readLevels(b, [changed, gone]);
      const features: string[] = [];
      if (rows.levels[0] === 1) features.push('the row written meanwhile is the old one');
      if (rows.statuses[1] === ST.PRESENT) features.push('the row invalidated meanwhile is found');
      answers.push({ call: answers.length, old: features });
      const now: PredictResponse = await scale(current);
      inconsistent.push(...inconsistentRows(now, current));
      const version = now.version === '1' ? [] : [`version ${now.version} answers, not the fleet's 1`];
      answers.push({ call: answers.length, old: version });
    };
    // Back, read back to back from the moment the proxy forwards again. Its
    // coherence link cannot subscribe yet (the link reconnects on its own
    // backoff, often seconds after the commands: here, for as long as the
    // test likes): B may answer as before only until its commands reach
    // Redis again; from its first answer that shows a change, none misses one.
    await redisCommand(redis.port, ['ACL', 'SETUSER', B_USER, '-subscribe']);
    try {
      proxy.restore();
      let connected = 0;
      const deadline = Date.now() + 20_000;
      while (connected < 10 && Date.now() < deadline) {
        await answer();
        if ((await metric(b, 'infercache_redis_node_connected')) === 1) connected++;
      }
      expect(connected, 'B reconnected').toBe(10);
      expect(await metric(b, 'infercache_coherence_catch_ups_total', { result: 'ok' })).toBe(caughtUp);
    } finally {
      await redisCommand(redis.port, ['ACL', 'SETUSER', B_USER, '+subscribe']);
    }
    await metricReaches(b, 'infercache_coherence_catch_ups_total', { result: 'ok' }, caughtUp + 1);
    for (let i = 0; i < 5; i++) await answer();
    const firstNew = answers.findIndex((x) => x.old.length === 0);
    expect(firstNew).toBeGreaterThanOrEqual(0);
    expect(answers.slice(firstNew).flatMap((x) => x.old.map((o) => `call ${x.call}: ${o}`))).toEqual([]);
    expect(inconsistent).toEqual([]);
    // Version 1's answers cached before the cut are not served: their generation moved on.
    const one = await scale(pinned, '1');
    expect(one.row_sources.some((x) => x === SRC.L1)).toBe(false);
    expect(inconsistentRows(one, pinned)).toEqual([]);
    // C, connected throughout, agrees.
    expect(await readLevels(c, [changed, gone])).toMatchObject({
      levels: [2, 0],
      statuses: [ST.PRESENT, ST.NOT_FOUND],
    });
    await c.client.unary('ActivateModel', { model: 'scale', version: '' });
  });

  it('reads no L1 after a reconnect until it has caught up (l1_readable 0), then serves L1 again', async () => {
    const [steady, changed] = freshIds(2, 'gate') as [string, string];
    const rows = irisRows(2);
    await putLevels(a, [steady, changed], [5, 5], Date.now() - 1000);
    await inL1(b, [steady, changed], rows);
    expect(await metric(b, 'infercache_coherence_l1_readable')).toBe(1);

    await cutB();
    await putLevels(a, [changed], [6]);
    // The catch-up reads the log with XINFO: refused to B, it cannot finish.
    await redisCommand(redis.port, ['ACL', 'SETUSER', B_USER, '-xinfo']);
    try {
      const failed = await metric(b, 'infercache_coherence_catch_ups_total', { result: 'failed' });
      proxy.restore();
      await eventually(
        'a failed catch-up',
        async () =>
          (await metric(b, 'infercache_coherence_catch_ups_total', { result: 'failed' })) > failed
            ? true
            : undefined,
        20_000,
      );
      expect(await metric(b, 'infercache_coherence_l1_readable')).toBe(0);
      // Connected but not caught up: every row comes from Redis, even those still in L1.
      expect(await readLevels(b, [steady, changed])).toMatchObject({
        levels: [5, 6],
        sources: [FS.L2, FS.L2],
      });
      expect(await predictSources(b, rows, '2')).toEqual([SRC.L2, SRC.L2]);
    } finally {
      await redisCommand(redis.port, ['ACL', 'SETUSER', B_USER, '+xinfo']);
    }
    await metricReaches(b, 'infercache_coherence_l1_readable', {}, 1);
    // The row read while L1 was closed went into L1, then the replayed change
    // dropped it again: only the unchanged one is an L1 hit.
    expect(await readLevels(b, [steady, changed])).toMatchObject({ levels: [5, 6] });
    expect((await readLevels(b, [steady])).sources).toEqual([FS.L1]);
  });

  it('reads no L1 while Redis answers but its coherence link is down, until the link is back and caught up', async () => {
    const rows = irisRows(2).map((r) => r.map((x) => x + 0.375));
    await predictSources(b, rows);
    expect(await predictSources(b, rows)).toEqual([SRC.L1, SRC.L1]);
    // B's commands still work, but its coherence link (pub/sub) is closed
    // and cannot subscribe again: changes would not reach its L1.
    await redisCommand(redis.port, ['ACL', 'SETUSER', B_USER, '-subscribe']);
    try {
      await redisCommand(redis.port, ['CLIENT', 'KILL', 'USER', B_USER, 'TYPE', 'pubsub']);
      await eventually('B to read its rows from L2 rather than L1', async () => {
        const sources = await predictSources(b, rows);
        return sources.every((s) => s === SRC.L2) ? true : undefined;
      });
    } finally {
      await redisCommand(redis.port, ['ACL', 'SETUSER', B_USER, '+subscribe']);
    }
    await eventually('B to serve L1 again once its link is back', async () => {
      const sources = await predictSources(b, rows);
      return sources.every((s) => s === SRC.L1) ? true : undefined;
    });
  });

  it('notices a stalled link by its heartbeat: stops answering from L1 within seconds, and once the stall ends not one old answer', async () => {
    const [changed, gone] = freshIds(2, 'stall') as [string, string];
    const rows = irisRows(2);
    await putLevels(a, [changed, gone], [1, 1], Date.now() - 1000);
    await inL1(b, [changed, gone], rows);
    const caughtUp = await metric(b, 'infercache_coherence_catch_ups_total', { result: 'ok' });

    // Nothing flows, nothing closes: B's sockets stay open, its Redis silent.
    proxy.stall();
    await putLevels(a, [changed], [2]);
    await invalidate(a, { view: { view: 'users', entities: stringIds(USER, [gone]) } });
    /**
     * B's rows: 'old' while it serves what it held before the stall; an
     * error while Redis is silent (a call then waits out two L2 timeouts,
     * 1 s each in tests: the fleet state read again, then the rows).
     */
    const answer = async () => {
      try {
        const read = await readLevels(b, [changed, gone]);
        const old = read.levels[0] === 1 || read.statuses[1] === ST.PRESENT;
        return old ? 'old' : 'new';
      } catch {
        return 'error';
      }
    };
    // The stalled link answers no PING: within about 3 s (a beat a second,
    // 2 s to answer) B takes it down and stops reading L1. Without the
    // heartbeat it would count the silent link as up and serve its old rows
    // for their L1 lifetime.
    const noticed = await eventually(
      'B to stop serving its old rows',
      async () => ((await answer()) === 'old' ? undefined : true),
      10_000,
    );
    expect(noticed).toBe(true);
    const afterNoticed = [await answer()];

    proxy.restore();
    const deadline = Date.now() + 20_000;
    let after = 0;
    while (after < 5 && Date.now() < deadline) {
      afterNoticed.push(await answer());
      if ((await metric(b, 'infercache_coherence_catch_ups_total', { result: 'ok' })) > caughtUp) after++;
    }
    expect(after, 'B caught up').toBe(5);
    expect(afterNoticed.filter((x) => x === 'old')).toEqual([]);
    expect(afterNoticed.slice(-5)).toEqual(['new', 'new', 'new', 'new', 'new']);
    expect(await readLevels(b, [changed, gone])).toMatchObject({
      levels: [2, 0],
      statuses: [ST.PRESENT, ST.NOT_FOUND],
    });
  });

  it('drops all of its L1 when the log was trimmed past its position, and reads the new rows', async () => {
    const [changed] = freshIds(1, 'trim') as [string];
    const rows = irisRows(2);
    await putLevels(a, [changed], [1], Date.now() - 1000);
    await inL1(b, [changed], rows);

    await cutB();
    await putLevels(a, [changed], [2]);
    // Four times the log's length in changes: B's last entry is trimmed away.
    const nobody = freshIds(400, 'nobody');
    for (let i = 0; i < nobody.length; i += 20) {
      await Promise.all(
        nobody
          .slice(i, i + 20)
          .map((id) => invalidate(a, { view: { view: 'users', entities: stringIds(USER, [id]) } })),
      );
    }

    proxy.restore();
    await metricReaches(b, 'infercache_coherence_catch_ups_total', { result: 'log_trimmed' }, 1);
    for (const kind of ['p', 'f', 'e']) expect(await metric(b, 'infercache_l1_entries', { kind })).toBe(0);
    await b.waitForLog((l) => l.msg === 'the bus log was trimmed past this sidecar: dropping its L1');
    expect(await readLevels(b, [changed])).toMatchObject({ levels: [2], sources: [FS.L2] });
    expect((await predictSources(b, rows, '2')).some((x) => x === SRC.L1)).toBe(false);
  });
});
