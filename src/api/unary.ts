import * as grpc from '@grpc/grpc-js';
import { waitUnlessAborted } from '../cache/single_flight.js';
import { InferCacheError } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import type { Admission } from './admission.js';
import { type CallContext, callContext } from './call_context.js';
import { refusal } from './refusal.js';
import { toServiceError } from './status.js';

/**
 * A handler gets the request's wire bytes (it decodes them itself) and the
 * call's context. It may also answer synchronously (`now`): encoded bytes
 * when it can answer at once without waiting for anything (an L1 hit), or
 * undefined to go the asynchronous way.
 */
export interface UnaryHandler {
  (request: Buffer, ctx: CallContext): Promise<unknown>;
  now?: (request: Buffer) => Buffer | undefined;
}

/**
 * A handler that answers at once when `now` can, from the decoded request,
 * and otherwise the asynchronous way (`later`), reusing that decoding.
 */
export function nowOrLater<Req extends object>(
  decode: (bytes: Buffer) => Req,
  now: (req: Req) => Buffer | undefined,
  later: (req: Req, ctx: CallContext) => Promise<unknown>,
): UnaryHandler {
  // Requests `now` decoded but could not answer, for the asynchronous way.
  const decoded = new WeakMap<Buffer, Req>();
  const handler: UnaryHandler = async (bytes, ctx) => later(decoded.get(bytes) ?? decode(bytes), ctx);
  handler.now = (bytes) => {
    const req = decode(bytes);
    const answer = now(req);
    if (answer === undefined) decoded.set(bytes, req);
    return answer;
  };
  return handler;
}

/**
 * A handler whose asynchronous way first waits for `ready` when it gives a
 * promise: the fleet state (model versions, invalidation generations) a
 * call's answer depends on, read again after a reconnect. The synchronous
 * way is left as it is: it answers only from L1, which is not read while
 * that state may be stale.
 */
export function afterReady(ready: () => Promise<void> | undefined, handler: UnaryHandler): UnaryHandler {
  const wrapped: UnaryHandler = async (bytes, ctx) => {
    const wait = ready();
    // A version switch may take seconds (its warm-up): the call waits no
    // longer than its own deadline, and not at all once cancelled.
    if (wait !== undefined) await waitUnlessAborted(wait, ctx.signal);
    return handler(bytes, ctx);
  };
  if (handler.now !== undefined) wrapped.now = handler.now;
  return wrapped;
}

const OVERLOADED = new InferCacheError('E_OVERLOADED', 'too many calls in progress; retry later');

/**
 * Every unary method of ours runs through here: admission control, the
 * call's deadline and cancellation signal, and the one mapping of errors to
 * statuses. Requests arrive as bytes (the method's deserializer is the
 * identity), so a request that does not decode is the caller's error
 * (INVALID_ARGUMENT), not grpc-js's "Error deserializing request" INTERNAL.
 */
export function unary(
  method: string,
  handler: UnaryHandler,
  admission: Admission,
  requestBytes: { observe(bytes: number): void },
  log: Logger,
): grpc.handleUnaryCall<Buffer, unknown> {
  const now = handler.now;
  const fail = (error: unknown): ReturnType<typeof toServiceError> => {
    const mapped = toServiceError(refusal(method, error));
    if (mapped.code === grpc.status.INTERNAL) log.error({ err: error, method }, 'call failed');
    return mapped;
  };
  return (call, callback) => {
    requestBytes.observe(call.request.length);
    if (now !== undefined) {
      // Answered before anything per call is set up (admission, deadline
      // timer, cancellation signal): it holds nothing and waits for nothing.
      let answer: Buffer | undefined;
      try {
        answer = now(call.request);
      } catch (error) {
        callback(fail(error ?? new Error('handler threw undefined')));
        return;
      }
      if (answer !== undefined) {
        callback(null, answer);
        return;
      }
    }
    if (!admission.enter()) {
      callback(toServiceError(OVERLOADED));
      return;
    }
    const ctx = callContext(call);
    const finish = (error: unknown, response?: unknown) => {
      ctx.dispose();
      admission.leave();
      if (error === undefined) {
        callback(null, response);
        return;
      }
      callback(fail(error));
    };
    let pending: Promise<unknown>;
    try {
      pending = handler(call.request, ctx);
    } catch (error) {
      finish(error ?? new Error('handler threw undefined'));
      return;
    }
    pending.then(
      (response) => finish(undefined, response),
      (error: unknown) => finish(error ?? new Error('handler rejected with undefined')),
    );
  };
}

/**
 * Method definitions whose requests reach the handler as raw bytes, and
 * whose responses may be bytes already encoded by the handler (a Buffer
 * leaves as it is; anything else goes through proto-loader's serializer).
 */
export function rawRequests(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, def] of Object.entries(service)) {
    const serialize = def.responseSerialize;
    out[name] = {
      ...def,
      requestDeserialize: (bytes: Buffer) => bytes,
      responseSerialize: (value: unknown) => (Buffer.isBuffer(value) ? value : serialize(value)),
    };
  }
  return out as grpc.ServiceDefinition;
}
