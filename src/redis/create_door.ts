import { redactUrl } from '../config/redact.js';
import { parseRedisUrl } from '../config/redis_url.js';
import type { Logger } from '../ops/logger.js';
import type { RedisMetrics } from '../ops/metrics.js';
import type { CircuitOptions } from './circuit.js';
import { clientOptions } from './client_options.js';
import { ClusterTransport } from './cluster_transport.js';
import type { RedisDoor } from './door.js';
import { GatedDoor } from './gated_door.js';
import { NullDoor } from './null_door.js';
import { SingleTransport } from './single_transport.js';
import type { RedisTransport } from './transport.js';

export interface DoorSettings {
  /** '' for no Redis at all. */
  readonly url: string;
  readonly mode: 'single' | 'cluster';
  readonly timeoutMs: number;
  readonly circuit: CircuitOptions;
}

/** The door the config asks for: none, one server, or a cluster. */
export function createRedisDoor(
  settings: DoorSettings,
  metrics: RedisMetrics,
  log: Logger,
  wrap: (transport: RedisTransport) => RedisTransport = (t) => t,
): RedisDoor {
  if (settings.url === '') return new NullDoor();
  const target = parseRedisUrl(settings.url);
  const doorLog = log.child({ component: 'l2' });
  const label = redactUrl(settings.url);
  const transport =
    settings.mode === 'cluster'
      ? new ClusterTransport(target, label, settings.timeoutMs, metrics, doorLog)
      : new SingleTransport(target, label, settings.timeoutMs, metrics, doorLog);
  return new GatedDoor(
    wrap(transport),
    { timeoutMs: settings.timeoutMs, circuit: settings.circuit },
    metrics,
    doorLog,
    clientOptions(target, settings.timeoutMs),
  );
}
