import type { Logger } from '../../src/ops/logger.js';
import { createLogger } from '../../src/ops/logger.js';
import { createMetrics, type Metrics } from '../../src/ops/metrics.js';
import { ChaosTransport } from '../../src/redis/chaos_transport.js';
import { createRedisDoor } from '../../src/redis/create_door.js';
import type { RedisDoor } from '../../src/redis/door.js';
import { metricValue } from './metrics.js';

export interface DoorOptions {
  readonly timeoutMs?: number;
  readonly resetMs?: number;
  readonly errorThresholdPct?: number;
  readonly log?: Logger;
}

/** A door to one real Redis server, through a chaos transport that passes calls through until told otherwise. */
export interface TestDoor {
  readonly door: RedisDoor;
  readonly chaos: ChaosTransport;
  readonly metrics: Metrics;
  /** One sample of this door's metrics (undefined when none matches). */
  metric(name: string, labels?: Record<string, string>): Promise<number | undefined>;
  close(): Promise<void>;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` every 10 ms until it holds, or throws after `timeoutMs`. */
export async function waitUntil(
  what: string,
  probe: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Opens a single-server door to `url` and waits for its connection. */
export async function openDoor(url: string, options: DoorOptions = {}): Promise<TestDoor> {
  const metrics = createMetrics();
  const made: { chaos?: ChaosTransport } = {};
  const door = createRedisDoor(
    {
      url,
      mode: 'single',
      timeoutMs: options.timeoutMs ?? 1000,
      circuit: { resetMs: options.resetMs ?? 1000, errorThresholdPct: options.errorThresholdPct ?? 50 },
    },
    metrics.redis,
    options.log ?? createLogger('silent'),
    (transport) => {
      made.chaos = new ChaosTransport(transport);
      return made.chaos;
    },
  );
  const { chaos } = made;
  if (chaos === undefined) throw new Error('createRedisDoor did not wrap its transport');
  await waitUntil('the first connection to Redis', () => door.connected);
  return {
    door,
    chaos,
    metrics,
    metric: async (name, labels) => metricValue(await metrics.registry.metrics(), name, labels),
    close: () => door.close(),
  };
}
