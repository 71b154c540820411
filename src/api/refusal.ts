import { InferCacheError, invalidArgument } from '../errors.js';
import { ElementLimitError, WireError } from './wire/proto_reader.js';

/**
 * A request's decoding failure as the caller's error: bytes that are not the
 * method's message are INVALID_ARGUMENT, a message past the element budget
 * E_LIMIT_EXCEEDED (RESOURCE_EXHAUSTED); anything else as it is. Every
 * handler that decodes its request bytes itself maps its errors through
 * here before toServiceError, so no bad request reaches a caller as
 * INTERNAL or is logged as our failure.
 */
export function refusal(method: string, error: unknown): unknown {
  if (error instanceof WireError) {
    return invalidArgument(`the ${method} request is not a valid message: ${error.message}`);
  }
  if (error instanceof ElementLimitError) return new InferCacheError('E_LIMIT_EXCEEDED', error.message);
  return error;
}
