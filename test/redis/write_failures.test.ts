import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { L1Cache } from '../../src/cache/l1.js';
import { TieredCache } from '../../src/cache/tiered.js';
import { createMetrics, type Metrics } from '../../src/ops/metrics.js';
import { type Prediction, predictionKind } from '../../src/predict/prediction_kind.js';
import { createRedisDoor } from '../../src/redis/create_door.js';
import type { KeyWrite, RedisDoor } from '../../src/redis/door.js';
import { DType } from '../../src/tensor/dtypes.js';
import { metricValue } from '../helpers/metrics.js';
import { type RedisServer, startRedis, startReplica } from '../helpers/redis_server.js';
import { eventually, sleep } from '../helpers/requests.js';

// Real servers that misbehave the way production ones do: paused (connected,
// silent), out of memory, read-only, stopped. Every call goes through the door
// the sidecar uses, built from the same settings.

const INFO = 30;
const WARN = 40;

type LogLine = Record<string, unknown> & { level: number; msg: string };

interface Opened {
  readonly door: RedisDoor;
  readonly metrics: Metrics;
  readonly lines: LogLine[];
  /** The value of one sample, 0 when it has not been written yet. */
  metric(name: string, labels: Record<string, string>): Promise<number>;
}

const opened: Opened[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((o) => o.door.close()));
});

async function openDoor(server: RedisServer, timeoutMs: number, resetMs: number): Promise<Opened> {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as LogLine);
      done();
    },
  });
  const metrics = createMetrics();
  const door = createRedisDoor(
    { url: server.url, mode: 'single', timeoutMs, circuit: { resetMs, errorThresholdPct: 50 } },
    metrics.redis,
    pino({ level: 'info' }, stream),
  );
  const o: Opened = {
    door,
    metrics,
    lines,
    metric: async (name, labels) => metricValue(await metrics.registry.metrics(), name, labels) ?? 0,
  };
  opened.push(o);
  await eventually('the door to connect', async () => (door.connected ? true : undefined));
  return o;
}

const node = (server: RedisServer) => `127.0.0.1:${server.port}`;
const circuit = (o: Opened, server: RedisServer, direction: 'read' | 'write') =>
  o.metric('infercache_redis_circuit_open', { node: node(server), direction });
const errors = (o: Opened, op: string, reason: string) =>
  o.metric('infercache_redis_errors_total', { op, reason });

const write = (key: string, value = `value of ${key}`): KeyWrite => ({
  key,
  value: Buffer.from(value),
  ttlMs: 60_000,
});
const writes = (prefix: string, n: number, bytes = 16): KeyWrite[] =>
  Array.from({ length: n }, (_, i) => ({
    key: `${prefix}:${i}`,
    value: Buffer.alloc(bytes, i),
    ttlMs: 60_000,
  }));

const warnings = (o: Opened) => o.lines.filter((l) => l.level === WARN);
const infos = (o: Opened) => o.lines.filter((l) => l.level === INFO);
/** The lines of the condition log (outage_log.ts) for one direction. */
const conditionWarnings = (o: Opened, direction: string) =>
  warnings(o).filter((l) => l.direction === direction && l.msg.startsWith(`Redis ${direction}s failing`));
const circuitOpened = (o: Opened, direction: string) =>
  warnings(o).filter((l) => l.direction === direction && l.msg.startsWith('Redis circuit open'));
const circuitClosed = (o: Opened, direction: string) =>
  infos(o).filter((l) => l.direction === direction && l.msg.startsWith('Redis circuit closed'));

describe('writes to a misbehaving Redis', () => {
  let plain: RedisServer;
  let full: RedisServer;
  let primary: RedisServer;
  let replica: RedisServer;
  beforeAll(async () => {
    [plain, full, primary] = await Promise.all([
      startRedis(),
      startRedis({ args: ['--maxmemory', '2mb', '--maxmemory-policy', 'noeviction'] }),
      startRedis(),
    ]);
    replica = await startReplica(primary);
  });
  afterAll(async () => {
    await Promise.all([plain, full, replica, primary].map((s) => s?.stop()));
  });

  it('keeps the write circuit of a paused Redis open through failed trials, then closes it once Redis answers', async () => {
    const timeoutMs = 200;
    const resetMs = 300;
    const o = await openDoor(plain, timeoutMs, resetMs);
    expect(await o.door.setMany('set', [write('paused:warm')])).toBe(1);

    await plain.pause();
    try {
      const started = Date.now();
      const [written, read] = await Promise.all([
        Promise.all(Array.from({ length: 6 }, (_, i) => o.door.setMany('set', [write(`paused:${i}`)]))),
        o.door.getMany('mget', ['paused:warm']),
      ]);
      // Bounded by the timeout, not by the silent server.
      expect(Date.now() - started).toBeLessThan(timeoutMs + 400);
      expect(written).toEqual([0, 0, 0, 0, 0, 0]);
      expect(read).toEqual([undefined]);
      expect(await errors(o, 'set', 'timeout')).toBe(6);
      expect(await errors(o, 'mget', 'timeout')).toBe(1);
      expect(await circuit(o, plain, 'write')).toBe(1);

      // Skipped at once while open.
      const skipping = Date.now();
      expect(await o.door.setMany('set', [write('paused:skipped')])).toBe(0);
      expect(Date.now() - skipping).toBeLessThan(timeoutMs / 2);
      expect(await errors(o, 'set', 'circuit_open')).toBe(1);

      // Each reset period lets one trial write through; against a paused
      // server every trial times out and the circuit must stay open.
      const timeoutsBefore = await errors(o, 'set', 'timeout');
      const states: number[] = [];
      const until = Date.now() + 6 * resetMs;
      while (Date.now() < until) {
        expect(await o.door.setMany('set', [write('paused:trial')])).toBe(0);
        states.push(await circuit(o, plain, 'write'));
        await sleep(20);
      }
      expect(states.length).toBeGreaterThan(10);
      expect(states).not.toContain(0);
      expect(await errors(o, 'set', 'timeout')).toBeGreaterThanOrEqual(timeoutsBefore + 2);
      expect(circuitClosed(o, 'write')).toEqual([]);
    } finally {
      await plain.resume();
    }

    await eventually('the write circuit to close', async () => {
      await o.door.setMany('set', [write('paused:probe')]);
      return (await circuit(o, plain, 'write')) === 0 ? true : undefined;
    });
    expect(await o.door.setMany('set', [write('paused:after', 'landed')])).toBe(1);
    expect(await plain.command(['GET', 'paused:after'])).toBe('landed');

    // One line when the condition starts, one when the circuit opens; the
    // failed trials in between are counted, not logged.
    const started = conditionWarnings(o, 'write');
    expect(started).toHaveLength(1);
    expect(started[0]?.reason).toBe('timeout');
    expect(circuitOpened(o, 'write')).toHaveLength(1);
    expect(warnings(o).filter((l) => l.direction === 'write')).toHaveLength(2);
    expect(circuitClosed(o, 'write')).toHaveLength(1);
    const ended = infos(o).filter((l) => l.direction === 'write' && l.msg === 'Redis writes succeed again');
    expect(ended).toHaveLength(1);
    expect(ended[0]?.reason).toBe('timeout');
  });

  it('counts every write a full Redis refuses as oom, opens the write circuit, and keeps serving reads', async () => {
    const o = await openDoor(full, 1000, 60_000);
    // A prediction stored before the server fills up, as the sidecar stores one.
    const kind = predictionKind(
      [
        { name: 'probabilities', dtype: DType.FLOAT32, dims: ['N', 3] },
        { name: 'label', dtype: DType.INT64, dims: ['N'] },
      ],
      true,
      { l1Ms: 60_000, l2Ms: 600_000, l2Jitter: 0 },
    );
    const stored: Prediction = {
      createdAt: Date.now(),
      tensors: [
        { dtype: DType.FLOAT32, dims: [3], data: Buffer.from(new Float32Array([0.1, 0.7, 0.2]).buffer) },
        { dtype: DType.INT64, dims: [], data: Buffer.from(new BigInt64Array([1n]).buffer) },
      ],
    };
    const tiered = (metrics: Metrics) =>
      new TieredCache(
        new L1Cache({ maxBytes: 1 << 20, shares: { p: 1, f: 0, e: 0 } }, metrics.cache, metrics.l1Sources),
        o.door,
        { maxPendingWrites: 100 },
        metrics.cache,
      );
    const writer = tiered(o.metrics);
    writer.setMany(kind, ['full:before'], [stored]);
    await writer.flush();
    expect(await full.command(['EXISTS', 'full:before'])).toBe('1');

    // Pipelines of 8 values of 32 KiB until the server refuses some; then
    // more until the circuit opens. The calls that reached the server had
    // each refused command counted as oom; the rest were skipped.
    let refusedByServer = 0;
    let skipped = 0;
    for (let call = 0; call < 40 && (await circuit(o, full, 'write')) === 0; call++) {
      const batch = writes(`full:${call}`, 8, 32 * 1024);
      const written = await o.door.setMany('set', batch);
      refusedByServer += batch.length - written;
    }
    expect(await circuit(o, full, 'write')).toBe(1);
    expect(refusedByServer).toBeGreaterThan(0);
    expect(await errors(o, 'set', 'oom')).toBe(refusedByServer);
    for (let call = 0; call < 3; call++) {
      expect(await o.door.setMany('set', writes(`full:skipped:${call}`, 8))).toBe(0);
      skipped += 8;
    }
    expect(await errors(o, 'set', 'circuit_open')).toBe(skipped);

    const started = conditionWarnings(o, 'write');
    expect(started).toHaveLength(1);
    expect(started[0]?.reason).toBe('oom');
    expect(started[0]?.msg).toMatch(/writes failing \(oom\)/);
    expect(circuitOpened(o, 'write')).toHaveLength(1);

    // Reads are another circuit: a fresh reader still gets the stored value.
    const readerMetrics = createMetrics();
    const reader = tiered(readerMetrics);
    for (let i = 0; i < 10; i++) {
      const [hit] = await reader.getMany(kind, ['full:before']);
      expect(hit?.tier).toBe(i === 0 ? 'l2' : 'l1');
      expect(hit?.value.tensors).toEqual(stored.tensors);
      expect((await o.door.getMany('mget', ['full:before', 'full:0:0']))[0]).not.toBeNull();
    }
    expect(await circuit(o, full, 'read')).toBe(0);
    expect(conditionWarnings(o, 'read')).toEqual([]);
    expect(await errors(o, 'mget', 'oom')).toBe(0);
  });

  it('counts writes to a read-only replica as readonly and still reads what the primary wrote', async () => {
    await primary.command(['SET', 'replica:shared', 'from the primary']);
    await eventually('the replica to have the key', async () =>
      (await replica.command(['GET', 'replica:shared'])) === 'from the primary' ? true : undefined,
    );
    const o = await openDoor(replica, 1000, 60_000);

    let refused = 0;
    for (let call = 0; call < 8; call++) {
      expect(await o.door.setMany('set', writes(`replica:${call}`, 3))).toBe(0);
      refused += 3;
    }
    expect((await errors(o, 'set', 'readonly')) + (await errors(o, 'set', 'circuit_open'))).toBe(refused);
    expect(await errors(o, 'set', 'readonly')).toBeGreaterThanOrEqual(5 * 3);
    expect(await primary.command(['EXISTS', 'replica:0:0'])).toBe('0');
    expect(await circuit(o, replica, 'write')).toBe(1);

    const started = conditionWarnings(o, 'write');
    expect(started).toHaveLength(1);
    expect(started[0]?.reason).toBe('readonly');
    expect(circuitOpened(o, 'write')).toHaveLength(1);
    expect(warnings(o)).toHaveLength(2);

    for (let i = 0; i < 6; i++) {
      expect((await o.door.getMany('mget', ['replica:shared']))[0]?.toString()).toBe('from the primary');
    }
    expect(await circuit(o, replica, 'read')).toBe(0);
  });

  it('answers at once while Redis is stopped, logs the loss once, and recovers by itself when it is back', async () => {
    const timeoutMs = 2000;
    const o = await openDoor(plain, timeoutMs, 300);
    expect(await o.door.setMany('set', [write('stopped:before')])).toBe(1);

    await plain.stop();
    await eventually('the door to see the loss', async () => (o.door.connected ? undefined : true));
    for (let i = 0; i < 10; i++) {
      const started = Date.now();
      const [read, written] = await Promise.all([
        o.door.getMany('mget', ['stopped:before']),
        o.door.setMany('set', [write(`stopped:${i}`)]),
      ]);
      expect(Date.now() - started).toBeLessThan(timeoutMs / 4);
      expect(read).toEqual([undefined]);
      expect(written).toBe(0);
    }
    expect(await errors(o, 'mget', 'unavailable')).toBe(10);
    expect(await errors(o, 'set', 'unavailable')).toBe(10);
    expect(await errors(o, 'set', 'timeout')).toBe(0);
    expect(await circuit(o, plain, 'write')).toBe(0);
    expect(await circuit(o, plain, 'read')).toBe(0);

    // A behaviour wait: reconnect attempts fail meanwhile, and neither they
    // nor the calls above may log again.
    await sleep(800);
    const lost = warnings(o);
    expect(lost).toHaveLength(1);
    expect(lost[0]?.msg).toMatch(/^L2 unreachable/);

    await plain.start();
    await eventually('the door to reconnect', async () => (o.door.connected ? true : undefined), 15_000);
    expect(infos(o).filter((l) => l.msg === 'L2 reconnected')).toHaveLength(1);
    expect(await o.door.setMany('set', [write('stopped:after', 'landed')])).toBe(1);
    expect(await plain.command(['GET', 'stopped:after'])).toBe('landed');
    expect((await o.door.getMany('mget', ['stopped:after']))[0]?.toString()).toBe('landed');
    expect(warnings(o)).toHaveLength(1);
  });
});
