import { randomUUID } from 'node:crypto';
import { ReplyError } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChaosFault } from '../../src/redis/chaos_transport.js';
import type { Direction } from '../../src/redis/door.js';
import { openDoor, sleep, type TestDoor, waitUntil } from '../helpers/door.js';
import { INFO, memoryLog, WARN } from '../helpers/memory_log.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';

const prefix = `gate-${randomUUID()}`;
const KEY = `${prefix}:seed`;
const oom = (): Error => new ReplyError('OOM command not allowed when used memory > maxmemory');
const connectionReset = (): Error => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });

const doors: TestDoor[] = [];
afterAll(async () => {
  for (const d of doors) await d.close();
});

beforeAll(async () => {
  const seeder = await door();
  expect(await seeder.door.setMany('seed', [{ key: KEY, value: Buffer.from('v'), ttlMs: 600_000 }])).toBe(1);
});

// A timeout that a loaded machine's Redis still meets, unless a test is about timeouts.
async function door(options: Parameters<typeof openDoor>[1] = {}): Promise<TestDoor> {
  const d = await openDoor(sharedRedisUrl(), { timeoutMs: 1000, resetMs: 300, ...options });
  doors.push(d);
  return d;
}

const circuit = (d: TestDoor, direction: Direction) =>
  d.metric('infercache_redis_circuit_open', { direction });
const errors = (d: TestDoor, op: string, reason: string) =>
  d.metric('infercache_redis_errors_total', { op, reason });

const writes = [1, 2, 3].map((i) => ({ key: `${prefix}:w${i}`, value: Buffer.from('w'), ttlMs: 60_000 }));
const callOf = (d: TestDoor, direction: Direction) => () =>
  direction === 'read' ? d.door.getMany('mget', [KEY]) : d.door.setMany('set', writes);

/**
 * Calls until the circuit of `direction` opens, five calls at once as
 * concurrent requests would make them: the breaker judges the last second
 * and wants five calls in it, which sequential calls as slow as a 300 ms
 * timeout never make.
 */
async function untilOpen(d: TestDoor, direction: Direction): Promise<void> {
  const call = callOf(d, direction);
  for (let round = 0; round < 4; round++) {
    await Promise.all([call(), call(), call(), call(), call()]);
    if ((await circuit(d, direction)) === 1) return;
  }
  throw new Error(`the ${direction} circuit did not open within 20 calls`);
}

describe('the failure door of one Redis node', () => {
  it('counts each command of a pipeline that failed inside, and opens the write circuit only', async () => {
    const d = await door({ resetMs: 5000 });
    d.chaos.inject({ kind: 'replyErrors', error: oom() });
    expect(await d.door.setMany('set', writes)).toBe(0);
    expect(await errors(d, 'set', 'oom')).toBe(3);
    await untilOpen(d, 'write');
    expect(await circuit(d, 'read')).toBe(0);

    // Reads still reach Redis; writes are skipped without a round trip.
    d.chaos.inject(undefined);
    expect((await d.door.getMany('mget', [KEY]))[0]?.toString()).toBe('v');
    const trips = d.chaos.calls;
    expect(await d.door.setMany('set', writes)).toBe(0);
    expect(d.chaos.calls).toBe(trips);
    expect(await errors(d, 'set', 'circuit_open')).toBe(3);
  });

  it('counts a connection reset mid-call as unavailable, and another error as error', async () => {
    const d = await door();
    d.chaos.inject({ kind: 'throw', error: connectionReset() });
    expect(await d.door.getMany('mget', [KEY, `${prefix}:other`])).toEqual([undefined, undefined]);
    expect(await errors(d, 'mget', 'unavailable')).toBe(1);
    d.chaos.inject({ kind: 'throw', error: new Error('something else went wrong') });
    expect(await d.door.getMany('mget', [KEY])).toEqual([undefined]);
    expect(await errors(d, 'mget', 'error')).toBe(1);
  });

  it('gives up on a hung call at its timeout, counts it as timeout, and opens the read circuit', async () => {
    const d = await door({ timeoutMs: 100, resetMs: 5000 });
    d.chaos.inject({ kind: 'hang' });
    for (let i = 0; (await circuit(d, 'read')) !== 1; i++) {
      expect(i).toBeLessThan(10);
      const started = performance.now();
      expect(await d.door.getMany('mget', [KEY])).toEqual([undefined]);
      const took = performance.now() - started;
      expect(took).toBeGreaterThanOrEqual(95);
      expect(took).toBeLessThan(400);
    }
    expect(await errors(d, 'mget', 'timeout')).toBeGreaterThanOrEqual(5);
    // Skipped without a round trip, so well before the timeout.
    const trips = d.chaos.calls;
    expect(await d.door.getMany('mget', [KEY])).toEqual([undefined]);
    expect(d.chaos.calls).toBe(trips);
    expect(await errors(d, 'mget', 'circuit_open')).toBe(1);
  });

  it.each([
    ['a connection reset', 'read', { kind: 'throw', error: connectionReset() }, 1000],
    ['a hang', 'read', { kind: 'hang' }, 300],
    ['a refusal of every command inside a pipeline', 'write', { kind: 'replyErrors', error: oom() }, 1000],
  ] as [string, Direction, ChaosFault, number][])(
    'keeps the circuit open while %s persists, trial calls included, and closes it once the fault is gone',
    async (_name, direction, fault, timeoutMs) => {
      const d = await door({ timeoutMs, resetMs: 300 });
      const call = callOf(d, direction);
      d.chaos.inject(fault);
      await untilOpen(d, direction);

      await sleep(400);
      const before = d.chaos.calls;
      for (let i = 0; i < 3; i++) await call();
      expect(d.chaos.calls).toBe(before + 1);
      expect(await circuit(d, direction)).toBe(1);
      await call();
      expect(d.chaos.calls).toBe(before + 1);

      d.chaos.inject(undefined);
      await sleep(400);
      await call();
      expect(await circuit(d, direction)).toBe(0);
      await call();
      expect(d.chaos.calls).toBe(before + 3);
    },
  );

  it('logs one WARN when a condition starts and one INFO when it ends, however many calls fail', async () => {
    const { log, lines } = memoryLog();
    const d = await door({ resetMs: 200, log });
    const start = lines.length;
    d.chaos.inject({ kind: 'throw', error: connectionReset() });
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 10; i++) await d.door.getMany('mget', [KEY]);
      // Past the reset time: the next call is a trial, and fails.
      await sleep(250);
    }
    d.chaos.inject(undefined);
    await sleep(250);
    for (let i = 0; i < 5; i++) await d.door.getMany('mget', [KEY]);
    await waitUntil('the recovery lines', () => lines.filter((l) => l.level === INFO).length >= 3);

    const seen = lines.slice(start);
    const warns = seen.filter((l) => l.level === WARN).map((l) => l.msg);
    expect(warns).toHaveLength(2);
    expect(warns.filter((m) => /^Redis reads failing \(unavailable\)/.test(m))).toHaveLength(1);
    expect(warns.filter((m) => /^Redis circuit open/.test(m))).toHaveLength(1);
    const infos = seen.filter((l) => l.level === INFO);
    expect(infos.map((l) => l.msg).sort()).toEqual([
      'Redis circuit closed: calls succeed again',
      'Redis reads succeed again',
    ]);
    expect(infos.find((l) => /circuit closed/.test(l.msg))?.failedTrials).toBeGreaterThanOrEqual(2);
    expect(infos.find((l) => /reads succeed/.test(l.msg))?.failures).toBeGreaterThanOrEqual(3);
  });

  it('returns at once when the caller aborts, without waiting for the timeout or counting a node failure', async () => {
    const { log, lines } = memoryLog();
    const d = await door({ timeoutMs: 2000, resetMs: 5000, log });
    d.chaos.inject({ kind: 'delay', ms: 300 });
    for (let i = 0; i < 10; i++) {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 10);
      const started = performance.now();
      expect(await d.door.getMany('mget', [KEY], controller.signal)).toEqual([undefined]);
      // Before the 300 ms the delayed reply takes: the caller left at its abort.
      expect(performance.now() - started).toBeLessThan(290);
    }
    const trips = d.chaos.calls;
    expect(await d.door.getMany('mget', [KEY], AbortSignal.abort())).toEqual([undefined]);
    expect(d.chaos.calls).toBe(trips);

    expect(await circuit(d, 'read')).toBe(0);
    for (const reason of ['timeout', 'unavailable', 'error', 'circuit_open']) {
      expect(await errors(d, 'mget', reason)).toBeUndefined();
    }
    expect(lines.filter((l) => l.level >= WARN)).toEqual([]);
    d.chaos.inject(undefined);
    expect((await d.door.getMany('mget', [KEY]))[0]?.toString()).toBe('v');
  });
});
