/**
 * String tensors travel as bytes like every other dtype: each element is a
 * u32 little-endian byte length followed by its UTF-8 bytes. One encoding
 * serves hashing, slicing into rows, storage and the trip to a worker.
 */
export function encodeStrings(values: readonly (string | Uint8Array)[]): Buffer {
  const parts = values.map((v) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v)));
  let total = 0;
  for (const p of parts) total += 4 + p.length;
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const p of parts) {
    out.writeUInt32LE(p.length, offset);
    p.copy(out, offset + 4);
    offset += 4 + p.length;
  }
  return out;
}

/** Byte offset of each element's start, plus the end; throws on malformed data. */
export function stringOffsets(data: Uint8Array, count: number): number[] {
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const offsets: number[] = [];
  let offset = 0;
  for (let i = 0; i < count; i++) {
    offsets.push(offset);
    if (offset + 4 > view.length) throw new RangeError('string tensor data is truncated');
    offset += 4 + view.readUInt32LE(offset);
    if (offset > view.length) throw new RangeError('string tensor data is truncated');
  }
  offsets.push(offset);
  return offsets;
}

export function decodeStrings(data: Uint8Array, count: number): string[] {
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const offsets = stringOffsets(view, count);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const start = (offsets[i] as number) + 4;
    out.push(view.toString('utf8', start, offsets[i + 1]));
  }
  return out;
}
