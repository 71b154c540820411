import { status } from '@grpc/grpc-js';
import type { DescriptorIndex } from './descriptor_index.js';

/** grpc.reflection.v1(alpha).ServerReflectionRequest as proto-loader decodes it (keepCase, oneofs). */
export interface ReflectionRequest {
  host?: string;
  file_by_filename?: string;
  file_containing_symbol?: string;
  file_containing_extension?: { containing_type?: string; extension_number?: number };
  all_extension_numbers_of_type?: string;
  list_services?: string;
  message_request?: string;
}

export interface ReflectionResponse {
  valid_host: string;
  original_request?: ReflectionRequest;
  file_descriptor_response?: { file_descriptor_proto: Uint8Array[] };
  all_extension_numbers_response?: { base_type_name: string; extension_number: number[] };
  list_services_response?: { service: { name: string }[] };
  error_response?: { error_code: number; error_message: string };
}

/** Longest symbol, file or host name a client may send (bytes of UTF-8); real ones are far shorter. */
export const MAX_NAME_BYTES = 1024;
/** How much of a client's value an error message repeats, so a message stays a few hundred bytes. */
const ECHO_CHARS = 64;

/**
 * One reflection answer. Failures are error_response messages on the
 * still-open stream (that is the protocol), with gRPC status numbers.
 */
export function answer(index: DescriptorIndex, request: ReflectionRequest): ReflectionResponse {
  const oversized = oversizedField(request);
  if (oversized !== undefined) {
    // The request is not echoed: it holds the oversized value.
    return failure(
      { valid_host: '' },
      status.INVALID_ARGUMENT,
      `${oversized} is longer than ${MAX_NAME_BYTES} bytes`,
    );
  }
  const base: ReflectionResponse = { valid_host: request.host ?? '', original_request: request };
  switch (request.message_request) {
    case 'list_services':
      return { ...base, list_services_response: { service: index.services.map((name) => ({ name })) } };
    case 'file_by_filename': {
      const name = request.file_by_filename ?? '';
      return files(base, index, name, `file ${quote(name)} not found`);
    }
    case 'file_containing_symbol': {
      const symbol = request.file_containing_symbol ?? '';
      const file = index.fileOfSymbol(symbol);
      return files(base, index, file, `symbol ${quote(symbol)} not found`);
    }
    case 'file_containing_extension': {
      const type = request.file_containing_extension?.containing_type ?? '';
      const number = request.file_containing_extension?.extension_number ?? 0;
      const file = index.fileOfExtension(type, number);
      return files(base, index, file, `extension ${number} of ${quote(type)} not found`);
    }
    case 'all_extension_numbers_of_type': {
      const type = request.all_extension_numbers_of_type ?? '';
      const numbers = index.extensionNumbers(type);
      if (numbers === undefined)
        return failure(base, status.NOT_FOUND, `message type ${quote(type)} not found`);
      return { ...base, all_extension_numbers_response: { base_type_name: type, extension_number: numbers } };
    }
    default:
      return failure(base, status.INVALID_ARGUMENT, 'the request names no known message_request');
  }
}

function files(
  base: ReflectionResponse,
  index: DescriptorIndex,
  fileName: string | undefined,
  notFound: string,
): ReflectionResponse {
  const found = fileName === undefined ? undefined : index.withDependencies(fileName);
  if (found === undefined) return failure(base, status.NOT_FOUND, notFound);
  // The spec lets a server skip files sent earlier on the stream; sending them
  // again keeps the server stateless and costs a few kilobytes.
  return { ...base, file_descriptor_response: { file_descriptor_proto: found } };
}

function failure(base: ReflectionResponse, code: status, message: string): ReflectionResponse {
  return { ...base, error_response: { error_code: code, error_message: message } };
}

function oversizedField(request: ReflectionRequest): string | undefined {
  const values: [string, string | undefined][] = [
    ['host', request.host],
    ['file_by_filename', request.file_by_filename],
    ['file_containing_symbol', request.file_containing_symbol],
    ['file_containing_extension.containing_type', request.file_containing_extension?.containing_type],
    ['all_extension_numbers_of_type', request.all_extension_numbers_of_type],
    ['list_services', request.list_services],
  ];
  return values.find(([, value]) => value !== undefined && Buffer.byteLength(value) > MAX_NAME_BYTES)?.[0];
}

/** A client's value as an error message shows it: its first characters, invisible ones as '?', quoted. */
function quote(value: string): string {
  const chars = Array.from(value);
  const shown = chars
    .slice(0, ECHO_CHARS)
    .join('')
    .replace(/[\p{C}\p{Zl}\p{Zp}]/gu, '?');
  return JSON.stringify(shown) + (chars.length > ECHO_CHARS ? '...' : '');
}
