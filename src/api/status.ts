import { type ServiceError, status } from '@grpc/grpc-js';
import { type ErrorCode, isInferCacheError } from '../errors.js';

const STATUS_OF: Record<ErrorCode, status> = {
  E_INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  E_MODEL_NOT_FOUND: status.NOT_FOUND,
  E_MODEL_NOT_READY: status.UNAVAILABLE,
  E_LIMIT_EXCEEDED: status.RESOURCE_EXHAUSTED,
  E_OVERLOADED: status.RESOURCE_EXHAUSTED,
  E_DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  E_INFERENCE_FAILED: status.INTERNAL,
  E_SHUTTING_DOWN: status.UNAVAILABLE,
  E_CONFIG: status.FAILED_PRECONDITION,
};

/**
 * The one place an error becomes a gRPC status. Only our own errors carry
 * their message to the client; anything else is INTERNAL with no detail
 * (it is logged by the caller).
 */
export function toServiceError(error: unknown): Partial<ServiceError> & { code: status } {
  if (isInferCacheError(error))
    return { code: STATUS_OF[error.code], details: `${error.code}: ${error.message}` };
  return { code: status.INTERNAL, details: 'internal error' };
}
