import { Packr } from 'msgpackr';
import { isDType } from '../tensor/dtypes.js';
import type { HostTensor } from '../tensor/host_tensor.js';
import type { CacheEntry } from './entry.js';

/**
 * L2 value format v1: msgpack of [1, createdAt, [[dtype, dims, bytes], ...]].
 * msgpack carries raw bytes as bin without re-encoding and cannot run code on
 * decode. Records are off so every value decodes on its own, without shared
 * structure state between sidecars.
 */
const FORMAT_VERSION = 1;
const packr = new Packr({ useRecords: false, moreTypes: false });

export function encodeEntry(entry: CacheEntry): Buffer {
  return packr.pack([FORMAT_VERSION, entry.createdAt, entry.tensors.map((t) => [t.dtype, t.dims, t.data])]);
}

/** Decodes a value read from L2; throws on anything not of format v1. */
export function decodeEntry(bytes: Buffer): CacheEntry {
  const value: unknown = packr.unpack(bytes);
  if (!Array.isArray(value) || value.length !== 3 || value[0] !== FORMAT_VERSION) {
    throw new TypeError('not an infercache v1 value');
  }
  const [, createdAt, rawTensors] = value as [number, unknown, unknown];
  if (typeof createdAt !== 'number' || !Array.isArray(rawTensors))
    throw new TypeError('malformed value header');
  return { createdAt, tensors: rawTensors.map(decodeTensor) };
}

function decodeTensor(raw: unknown): HostTensor {
  if (!Array.isArray(raw) || raw.length !== 3) throw new TypeError('malformed tensor');
  const [dtype, dims, data] = raw as [unknown, unknown, unknown];
  if (typeof dtype !== 'number' || !isDType(dtype)) throw new TypeError('unknown dtype');
  if (!Array.isArray(dims) || !dims.every((d) => Number.isInteger(d) && d >= 0))
    throw new TypeError('bad dims');
  if (!(data instanceof Uint8Array)) throw new TypeError('tensor data is not bytes');
  // Copy into an 8-aligned buffer: msgpack bins sit at any offset of the value.
  return { dtype, dims: dims as number[], data: Buffer.from(data) };
}
