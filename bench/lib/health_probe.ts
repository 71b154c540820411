import * as grpc from '@grpc/grpc-js';
import { HEALTH_CHECK, rawClient, wire } from '../../test/helpers/raw_call.js';

export interface Probed<T> {
  readonly result: T;
  /** The slowest health check sent while `work` ran (ms). */
  readonly slowestMs: number;
  readonly probes: number;
  /** Checks that did not answer OK. */
  readonly failed: number;
}

/**
 * Health checks on a connection of their own, as a kubelet's probe would
 * make them, one every `intervalMs` whether or not the last has answered:
 * a check sent while the server's event loop is stalled waits out the rest
 * of the stall, so the slowest check is the longest stall, give or take the
 * interval. (One check at a time would leave gaps while each is in flight.)
 */
export function startHealthProbe(addr: string, intervalMs = 5) {
  const client = rawClient(addr);
  const request = wire.bytes(1, '');
  return {
    /** One check, e.g. to open the connection before measuring. */
    check: () => client.call(HEALTH_CHECK, request, 5000),
    /** Probes from before `work` starts until it settles, and until every check sent has answered. */
    async during<T>(work: () => Promise<T>): Promise<Probed<T>> {
      let slowestMs = 0;
      let failed = 0;
      const sent: Promise<void>[] = [];
      const probe = () => {
        sent.push(
          client.call(HEALTH_CHECK, request, 10_000).then((o) => {
            if (o.code !== grpc.status.OK) failed++;
            slowestMs = Math.max(slowestMs, o.ms);
          }),
        );
      };
      probe();
      const timer = setInterval(probe, intervalMs);
      try {
        const result = await work();
        clearInterval(timer);
        await Promise.all(sent);
        return { result, slowestMs, probes: sent.length, failed };
      } finally {
        clearInterval(timer);
      }
    },
    close: () => client.close(),
  };
}
