import type * as grpc from '@grpc/grpc-js';
import { InferCacheError } from '../errors.js';

/** What every handler gets besides its request. */
export interface CallContext {
  /** Epoch ms; Infinity when the caller set no deadline. */
  readonly deadline: number;
  /**
   * Fires when the caller stops waiting: it cancelled, its deadline passed,
   * or the server cancelled the call while shutting down. The reason is an
   * InferCacheError (E_CANCELLED or E_DEADLINE_EXCEEDED). It reaches the
   * Redis calls, the single-flight waits and the inference queue.
   */
  readonly signal: AbortSignal;
}

export interface OwnedCallContext extends CallContext {
  /** Releases the timer and listener; call once the handler has answered. */
  dispose(): void;
}

export function callContext(call: grpc.ServerUnaryCall<unknown, unknown>): OwnedCallContext {
  const controller = new AbortController();
  const raw = call.getDeadline();
  const deadline = raw instanceof Date ? raw.getTime() : raw;
  const expired = () => new InferCacheError('E_DEADLINE_EXCEEDED', 'the deadline passed');
  // grpc-js also ends a call whose deadline passed, as a cancellation.
  const onCancel = () =>
    controller.abort(
      Date.now() >= deadline ? expired() : new InferCacheError('E_CANCELLED', 'the call was cancelled'),
    );
  call.on('cancelled', onCancel);
  let timer: NodeJS.Timeout | undefined;
  if (Number.isFinite(deadline)) {
    // Node timers run at most 2^31-1 ms ahead; a later deadline needs no timer.
    const wait = Math.max(0, deadline - Date.now());
    if (wait < 2 ** 31 - 1) {
      timer = setTimeout(() => controller.abort(expired()), wait);
    }
  }
  return {
    deadline,
    signal: controller.signal,
    dispose() {
      clearTimeout(timer);
      call.off('cancelled', onCancel);
    },
  };
}
