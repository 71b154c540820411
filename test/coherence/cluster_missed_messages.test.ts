import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FS, freshIds, ST, stringIds } from '../helpers/features.js';
import { metricSum } from '../helpers/metrics.js';
import { inconsistentRows, installVersion, scaleModel, scaleRequest } from '../helpers/model_versions.js';
import { type RedisCluster, startRedisCluster } from '../helpers/redis_cluster.js';
import { redisCommand } from '../helpers/redis_command.js';
import { eventually, irisRows, SRC } from '../helpers/requests.js';
import { type Sidecar, stopAllSidecars } from '../helpers/sidecar.js';
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

const MASTERS = 3;
// B reaches the cluster as its own user (CUT_OFF_USER): switched off and its
// connections killed on every node, it is cut off from the whole cluster
// while A and this test (the default user) are not. A proxy per node would
// not do: the nodes announce their own ports, and B's cluster client follows them.
const B_USER = CUT_OFF_USER.name;

describe('on a Redis Cluster of three masters, a sidecar that missed fleet changes while cut off', () => {
  const prefix = `clmiss-${randomBytes(4).toString('hex')}`;
  let cluster: RedisCluster;
  let files: FleetFiles;
  /** Every node's port. */
  let ports: number[];
  /** The default user; makes the changes. */
  let a: Sidecar;
  /** B_USER; client tracking off, so only the bus can tell it of changes. */
  let b: Sidecar;

  /** The same command on every node of the cluster (ACLs and clients are per node). */
  const onEveryNode = (args: string[]) => Promise.all(ports.map((port) => redisCommand(port, args)));

  /** The nodes B's commands can reach now, by its metrics. */
  const nodesOfB = async () => metricSum(await b.metrics(), 'infercache_redis_node_connected');

  beforeAll(async () => {
    [cluster, files] = await Promise.all([startRedisCluster({ masters: MASTERS }), fleetFiles()]);
    ports = (await cluster.nodes()).map((n) => n.port);
    await onEveryNode(CUT_OFF_USER_ACL);
    // scale: every answer tells which version computed it (y = x * version).
    for (const v of [1, 2]) await installVersion(files.models, 'scale', String(v), scaleModel(v));
    const env = {
      INFERCACHE_REDIS_MODE: 'cluster',
      INFERCACHE_BUS_LOG_LENGTH: SMALLEST_LOG_LENGTH,
      INFERCACHE_CLIENT_TRACKING: 'off',
    };
    const seeds = cluster.seedNodes.map((n) => `${n.host}:${n.port}`).join(',');
    [a, b] = await Promise.all([
      startMember(cluster.seedUrls, prefix, files, env),
      startMember(`redis://${B_USER}:${CUT_OFF_USER.password}@${seeds}`, prefix, files, env),
    ]);
  });
  // A test that failed while B was cut off must not leave the next one without Redis.
  afterEach(async () => {
    if (ports !== undefined) await onEveryNode(['ACL', 'SETUSER', B_USER, 'on', '+subscribe', '+xinfo']);
  });
  afterAll(async () => {
    await stopAllSidecars();
    await cluster?.stop();
  });

  /** Cuts B off from every node and waits until it knows: none of its connections is up. */
  async function cutB(): Promise<void> {
    expect(await nodesOfB()).toBe(MASTERS);
    await onEveryNode(['ACL', 'SETUSER', B_USER, 'off']);
    await onEveryNode(['CLIENT', 'KILL', 'USER', B_USER]);
    await eventually('B to lose every node', async () => ((await nodesOfB()) === 0 ? true : undefined));
    // Its reconnects are refused (the user is off): no connection of B's is left on any node.
    for (const port of ports) {
      const list = String(await redisCommand(port, ['CLIENT', 'LIST']));
      expect(list).not.toContain(`user=${B_USER} `);
    }
  }

  async function restoreB(): Promise<void> {
    await onEveryNode(['ACL', 'SETUSER', B_USER, 'on']);
  }

  async function inL1(s: Sidecar, ids: string[], rows: number[][]): Promise<void> {
    await eventually('the rows in L1', async () => {
      const features = (await readLevels(s, ids)).sources.every((x) => x === FS.L1);
      const predictions = (await predictSources(s, rows, '2')).every((x) => x === SRC.L1);
      return features && predictions ? true : undefined;
    });
  }

  it('replays the log once back: not one answer older than what the fleet did meanwhile (a version chosen, a version invalidated, rows written and invalidated), and nothing else dropped', async () => {
    // Enough entities per change that their keys land on every master. B
    // reads the `seen` ones as it comes back; the `unseen` ones only once it
    // has caught up: only the log can tell it that its L1 copies are old.
    const seen = { changed: freshIds(12, 'clchanged'), gone: freshIds(12, 'clgone') };
    const unseen = { changed: freshIds(6, 'clchanged'), gone: freshIds(6, 'clgone') };
    const changed = [...seen.changed, ...unseen.changed];
    const gone = [...seen.gone, ...unseen.gone];
    const kept = freshIds(4, 'clkept');
    const current = irisRows(2);
    const pinned = irisRows(2).map((r) => r.map((x) => x + 0.5));
    const scale = (rows: number[][], version = '') => b.client.predict(scaleRequest('scale', rows, version));
    const all = [...changed, ...gone, ...kept];
    await putLevels(
      a,
      all,
      all.map(() => 1),
      Date.now() - 1000,
    );
    const holders = await Promise.all(
      ports.map(async (p) => ((await redisCommand(p, ['KEYS', `${prefix}:f:*`])) as string[]).length),
    );
    expect(holders.filter((n) => n > 0)).toHaveLength(MASTERS);
    await eventually('the rows in the L1 of B', async () => {
      const features = (await readLevels(b, all)).sources.every((x) => x === FS.L1);
      const now = await scale(current);
      const one = await scale(pinned, '1');
      const inL1 = [...now.row_sources, ...one.row_sources].every((x) => x === SRC.L1);
      return features && inL1 && now.version === '2' ? true : undefined;
    });

    await cutB();
    // Through A: the fleet now serves version 1 of scale, whose cached
    // answers are invalidated; rows written, rows invalidated.
    await a.client.unary('ActivateModel', { model: 'scale', version: '1' });
    await invalidate(a, { model: { model: 'scale', version: '1' } });
    await putLevels(
      a,
      changed,
      changed.map(() => 2),
    );
    await invalidate(a, { view: { view: 'users', entities: stringIds(USER, gone) } });
    expect((await a.client.predict(scaleRequest('scale', current))).version).toBe('1');
    // Cut off, B answers as it knew (and so shows it heard nothing): version 2, the old rows.
    expect((await scale(current)).version).toBe('2');
    const before = await readLevels(b, [...changed, ...gone]);
    expect(before.levels.every((l) => l === 1)).toBe(true);
    expect(before.sources.every((s) => s === FS.L1)).toBe(true);
    const caughtUp = await metric(b, 'infercache_coherence_catch_ups_total', { result: 'ok' });
    const fromLog = await metric(b, 'infercache_coherence_changes_total', { type: 'keys', via: 'log' });

    // B's answers in the order it gave them, each with what in it is older
    // than what the fleet did meanwhile.
    const answers: { call: number; old: string[] }[] = [];
    const inconsistent: number[] = [];
    const answer = async (of: { changed: string[]; gone: string[] }) => {
      const rows = await readLevels(b, [...of.changed, ...of.gone]);
      const features: string[] = [];
      rows.levels.slice(0, of.changed.length).forEach((level, i) => {
        if (level === 1) features.push(`the row of ${of.changed[i]} written meanwhile is the old one`);
      });
      rows.statuses.slice(of.changed.length).forEach((status, i) => {
        if (status === ST.PRESENT) features.push(`the row of ${of.gone[i]} invalidated meanwhile is found`);
      });
      answers.push({ call: answers.length, old: features });
      const now = await scale(current);
      inconsistent.push(...inconsistentRows(now, current));
      const version = now.version === '1' ? [] : [`version ${now.version} answers, not the fleet's 1`];
      answers.push({ call: answers.length, old: version });
    };
    // Back, read back to back from the moment its user is on again. Its
    // coherence links cannot subscribe yet (they reconnect on their own
    // backoff, often seconds after the commands: here, for as long as the
    // test likes): B may answer as before only until its commands reach
    // the cluster again; from its first answer that shows a change, none
    // misses one.
    await onEveryNode(['ACL', 'SETUSER', B_USER, '-subscribe']);
    try {
      await restoreB();
      let connected = 0;
      const deadline = Date.now() + 20_000;
      while (connected < 10 && Date.now() < deadline) {
        await answer(seen);
        if ((await nodesOfB()) === MASTERS) connected++;
      }
      expect(connected, 'B reconnected to every master').toBe(10);
      expect(await metric(b, 'infercache_coherence_catch_ups_total', { result: 'ok' })).toBe(caughtUp);
      // Connected, its links not caught up: B answers as the fleet already.
      expect(answers.at(-1)?.old).toEqual([]);
      expect(answers.at(-2)?.old).toEqual([]);
    } finally {
      await onEveryNode(['ACL', 'SETUSER', B_USER, '+subscribe']);
    }
    await metricReaches(b, 'infercache_coherence_catch_ups_total', { result: 'ok' }, caughtUp + 1, true);
    for (let i = 0; i < 5; i++) await answer({ changed, gone });
    const firstNew = answers.findIndex((x) => x.old.length === 0);
    expect(firstNew).toBeGreaterThanOrEqual(0);
    expect(answers.slice(firstNew).flatMap((x) => x.old.map((o) => `call ${x.call}: ${o}`))).toEqual([]);
    expect(inconsistent).toEqual([]);
    // Version 1's answers cached before the cut are not served: their generation moved on.
    const one = await scale(pinned, '1');
    expect(one.row_sources.some((x) => x === SRC.L1)).toBe(false);
    expect(inconsistentRows(one, pinned)).toEqual([]);
    // The changes came from the log, and what did not change is still served
    // from L1: B replayed, it did not start over.
    expect(await metric(b, 'infercache_coherence_changes_total', { type: 'keys', via: 'log' })).toBe(
      fromLog + 2,
    );
    expect(await metric(b, 'infercache_coherence_catch_ups_total', { result: 'log_trimmed' })).toBe(0);
    const steady = await readLevels(b, kept);
    expect(steady.levels.every((l) => l === 1)).toBe(true);
    expect(steady.sources.every((s) => s === FS.L1)).toBe(true);
    // A, connected throughout, agrees.
    const fleet = await readLevels(a, [...changed, ...gone]);
    expect(fleet.levels).toEqual([...changed.map(() => 2), ...gone.map(() => 0)]);
    await a.client.unary('ActivateModel', { model: 'scale', version: '' });
  });

  it('reads no L1 after a reconnect until it has caught up (l1_readable 0), then serves L1 again', async () => {
    const steady = freshIds(6, 'clsteady');
    const changed = freshIds(6, 'clgate');
    const rows = irisRows(2).map((r) => r.map((x) => x + 0.25));
    const fives = [...steady, ...changed].map(() => 5);
    await putLevels(a, [...steady, ...changed], fives, Date.now() - 1000);
    await inL1(b, [...steady, ...changed], rows);
    expect(await metric(b, 'infercache_coherence_l1_readable')).toBe(1);

    await cutB();
    await putLevels(
      a,
      changed,
      changed.map(() => 6),
    );
    // The catch-up reads the log with XINFO: refused to B, it cannot finish.
    await onEveryNode(['ACL', 'SETUSER', B_USER, '-xinfo']);
    try {
      const failed = await metric(b, 'infercache_coherence_catch_ups_total', { result: 'failed' });
      await restoreB();
      await eventually(
        'B back on every master, and a failed catch-up',
        async () =>
          (await metric(b, 'infercache_coherence_catch_ups_total', { result: 'failed' })) > failed &&
          (await nodesOfB()) === MASTERS
            ? true
            : undefined,
        20_000,
      );
      expect(await metric(b, 'infercache_coherence_l1_readable')).toBe(0);
      // Connected but not caught up: every row comes from Redis, even those still in L1.
      const read = await readLevels(b, [...steady, ...changed]);
      expect(read.levels).toEqual([...steady.map(() => 5), ...changed.map(() => 6)]);
      expect(read.sources.every((s) => s === FS.L2)).toBe(true);
      expect(await predictSources(b, rows, '2')).toEqual([SRC.L2, SRC.L2]);
      expect(await metric(b, 'infercache_coherence_l1_readable')).toBe(0);
    } finally {
      await onEveryNode(['ACL', 'SETUSER', B_USER, '+xinfo']);
    }
    await metricReaches(b, 'infercache_coherence_l1_readable', {}, 1);
    // The rows read while L1 was closed went into L1, then the replayed
    // change dropped the changed ones again: only the unchanged are L1 hits.
    const after = await readLevels(b, [...steady, ...changed]);
    expect(after.levels).toEqual([...steady.map(() => 5), ...changed.map(() => 6)]);
    expect((await readLevels(b, steady)).sources.every((s) => s === FS.L1)).toBe(true);
    expect(await predictSources(b, rows, '2')).toEqual([SRC.L1, SRC.L1]);
  });

  it('drops all of its L1 when the log was trimmed past its position, and reads the new rows', async () => {
    const changed = freshIds(12, 'cltrim');
    const rows = irisRows(2).map((r) => r.map((x) => x + 0.125));
    await putLevels(
      a,
      changed,
      changed.map(() => 1),
      Date.now() - 1000,
    );
    await inL1(b, changed, rows);
    for (const kind of ['p', 'f'])
      expect(await metric(b, 'infercache_l1_entries', { kind })).toBeGreaterThan(0);

    await cutB();
    await putLevels(
      a,
      changed,
      changed.map(() => 2),
    );
    // Four times the log's length in changes: B's last entry is trimmed away.
    const nobody = freshIds(400, 'clnobody');
    for (let i = 0; i < nobody.length; i += 20) {
      await Promise.all(
        nobody
          .slice(i, i + 20)
          .map((id) => invalidate(a, { view: { view: 'users', entities: stringIds(USER, [id]) } })),
      );
    }
    // Still cut off: B serves what it held.
    expect((await readLevels(b, changed)).levels.every((l) => l === 1)).toBe(true);

    await restoreB();
    await metricReaches(b, 'infercache_coherence_catch_ups_total', { result: 'log_trimmed' }, 1);
    for (const kind of ['p', 'f', 'e']) expect(await metric(b, 'infercache_l1_entries', { kind })).toBe(0);
    await b.waitForLog((l) => l.msg === 'the bus log was trimmed past this sidecar: dropping its L1');
    await metricReaches(b, 'infercache_coherence_l1_readable', {}, 1);
    await eventually('B back on every master', async () =>
      (await nodesOfB()) === MASTERS ? true : undefined,
    );
    const read = await readLevels(b, changed);
    expect(read.levels.every((l) => l === 2)).toBe(true);
    expect(read.sources.every((s) => s === FS.L2)).toBe(true);
    expect((await predictSources(b, rows, '2')).some((x) => x === SRC.L1)).toBe(false);
  });
});
