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
  | 'E_CANCELLED'
  | 'E_INFERENCE_FAILED'
  | 'E_UNAVAILABLE'
  | 'E_SHUTTING_DOWN'
  | 'E_CONFIG'
  // A model's entityInputs name features the views file does not have.
  | 'E_NOT_CALLABLE_BY_ENTITY'
  // GetEmbeddings of a model without an embedding output (see embeddings/embedding_target.ts).
  | 'E_NOT_AN_EMBEDDING_MODEL';

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

// How much of a caller's value an error message may quote. Error messages go
// back in the gRPC trailers, which HTTP/2 peers cap (grpc-js: 8 KiB of
// headers by default); echoing a 1 MiB name there once stalled a connection.
const QUOTE_CHARS = 64;

/**
 * A caller-supplied value as an error message may show it: JSON-quoted, at
 * most 64 characters, with the length of the rest said rather than shown.
 */
export function quote(value: string): string {
  if (value.length <= QUOTE_CHARS) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, QUOTE_CHARS))}… (${value.length} chars)`;
}
