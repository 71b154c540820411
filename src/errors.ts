/**
 * Every error the service raises on purpose. Each has a stable `code` (part of
 * the public contract: clients and logs match on it) and an optional cause.
 * api/status.ts maps codes to gRPC status codes; anything that is not an
 * InferCacheError reaches a client as INTERNAL with no detail.
 */
export type ErrorCode =
  | 'E_INVALID_ARGUMENT'
  | 'E_MODEL_NOT_FOUND'
  | 'E_MODEL_NOT_READY'
  | 'E_LIMIT_EXCEEDED'
  | 'E_OVERLOADED'
  | 'E_DEADLINE_EXCEEDED'
  | 'E_INFERENCE_FAILED'
  | 'E_SHUTTING_DOWN'
  | 'E_CONFIG';

export class InferCacheError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InferCacheError';
    this.code = code;
  }
}

export const invalidArgument = (message: string): InferCacheError =>
  new InferCacheError('E_INVALID_ARGUMENT', message);

export const limitExceeded = (message: string): InferCacheError =>
  new InferCacheError('E_LIMIT_EXCEEDED', message);

export const modelNotFound = (message: string): InferCacheError =>
  new InferCacheError('E_MODEL_NOT_FOUND', message);

export function isInferCacheError(error: unknown): error is InferCacheError {
  return error instanceof InferCacheError;
}
