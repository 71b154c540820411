import * as grpc from '@grpc/grpc-js';
import type { Metrics } from '../ops/metrics.js';

type StatusSender = { sendStatus(status: { code: grpc.status }): void };

/** "/infercache.v1.InferCache/Predict" -> "Predict"; other services keep their full name. */
function methodLabel(path: string): string {
  const ours = '/infercache.v1.InferCache/';
  return path.startsWith(ours) ? path.slice(ours.length) : path.slice(1);
}

/**
 * Counts every call by method and the status it ended with, and times it:
 * also calls grpc-js ends itself before any handler runs (a message over the
 * size limit, an expired deadline). grpc-js sends those statuses from the
 * call object it hands to the first interceptor, without passing them up
 * the interceptor chain, so the count hooks that object's sendStatus (the
 * public method of ServerInterceptingCallInterface) rather than a responder.
 */
export function callMetricsInterceptor(metrics: Metrics['api']): grpc.ServerInterceptor {
  type Counted = { calls: { inc(): void }; seconds: { observe(v: number): void } };
  // Per method, per status code: found by two array/map reads, no string built per call.
  const byMethod = new Map<string, Counted[]>();
  const counted = (method: string, code: grpc.status): Counted => {
    let codes = byMethod.get(method);
    if (codes === undefined) {
      codes = [];
      byMethod.set(method, codes);
    }
    let c = codes[code];
    if (c === undefined) {
      const name = grpc.status[code] ?? String(code);
      c = {
        calls: metrics.requests.labels(method, name),
        seconds: metrics.requestDuration.labels(method, name),
      };
      codes[code] = c;
    }
    return c;
  };
  const labels = new Map<string, string>();
  return (descriptor, call) => {
    let method = labels.get(descriptor.path);
    if (method === undefined) {
      method = methodLabel(descriptor.path);
      labels.set(descriptor.path, method);
    }
    const name = method;
    const startedAt = performance.now();
    const sender = call as unknown as StatusSender;
    const send = sender.sendStatus;
    let done = false;
    sender.sendStatus = function (this: unknown, status) {
      if (!done) {
        done = true;
        const c = counted(name, status.code);
        c.calls.inc();
        c.seconds.observe((performance.now() - startedAt) / 1000);
      }
      send.call(call, status);
    };
    // The call itself, not a ServerInterceptingCall around it: that wrapper
    // would add an object and a hop per event to every call, for nothing.
    return call as grpc.ServerInterceptingCall;
  };
}
