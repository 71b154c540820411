import { type ServiceError, status } from '@grpc/grpc-js';
import { type ErrorCode, isInferCacheError } from '../errors.js';

const STATUS_OF: Record<ErrorCode, status> = {
  E_INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  E_MODEL_NOT_FOUND: status.NOT_FOUND,
  E_MODEL_NOT_READY: status.UNAVAILABLE,
  E_LIMIT_EXCEEDED: status.RESOURCE_EXHAUSTED,
  E_OVERLOADED: status.RESOURCE_EXHAUSTED,
  E_DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  E_CANCELLED: status.CANCELLED,
  E_INFERENCE_FAILED: status.INTERNAL,
  E_UNAVAILABLE: status.UNAVAILABLE,
  E_SHUTTING_DOWN: status.UNAVAILABLE,
  E_CONFIG: status.FAILED_PRECONDITION,
  E_NOT_CALLABLE_BY_ENTITY: status.FAILED_PRECONDITION,
  E_NOT_AN_EMBEDDING_MODEL: status.FAILED_PRECONDITION,
};

// grpc-js percent-encodes the details into the grpc-message trailer (up to
// 9 bytes per character), and peers cap headers at a few KiB: a message
// that overflows that cap once left a call unanswered and stalled every
// other call on its connection. No message a client can trigger may exceed
// this many UTF-8 bytes.
export const MAX_DETAILS_BYTES = 300;

/**
 * The one place an error becomes a gRPC status. Only our own errors carry
 * their message to the client; anything else is INTERNAL with no detail
 * (it is logged by the caller).
 */
export function toServiceError(error: unknown): Partial<ServiceError> & { code: status } {
  if (isInferCacheError(error)) {
    return { code: STATUS_OF[error.code], details: capBytes(`${error.code}: ${error.message}`) };
  }
  return { code: status.INTERNAL, details: 'internal error' };
}

/** `text` cut to MAX_DETAILS_BYTES of UTF-8, at a character boundary, marked with "…". */
function capBytes(text: string): string {
  if (Buffer.byteLength(text) <= MAX_DETAILS_BYTES) return text;
  let end = Math.min(text.length, MAX_DETAILS_BYTES);
  while (end > 0 && Buffer.byteLength(text.slice(0, end)) > MAX_DETAILS_BYTES - 3) end--;
  // Do not split a surrogate pair.
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}
