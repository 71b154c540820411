import { xxh64 } from '@node-rs/xxhash';
import { describe, expect, it } from 'vitest';
import {
  decodeFrame,
  encodeFrame,
  encodeFrameInto,
  FRAME_HEADER_BYTES,
  FRAME_TIME_OFFSET,
  type FrameKind,
  frameSize,
  RejectedValue,
} from '../../src/cache/value_frame.js';

const KEY = 'ic:p:iris:1:{ab}0123456789abcdef0123456789ab';
const TIME = 1_700_000_000_123.5;
const PAYLOAD = Buffer.from('payload bytes \u0000\u00ff of some value');

/** The reason a decode was refused with, or undefined when it was not. */
function refusal(decode: () => unknown): string | undefined {
  try {
    decode();
  } catch (error) {
    if (error instanceof RejectedValue) return error.reason;
    throw error;
  }
  return undefined;
}

describe('value frame', () => {
  it.each(['p', 'f', 'e'] as const)('round-trips kind %s, time and payload', (kind: FrameKind) => {
    const frame = decodeFrame(KEY, kind, encodeFrame(KEY, kind, TIME, PAYLOAD));
    expect(frame.kind).toBe(kind);
    expect(frame.time).toBe(TIME);
    expect(frame.payload.equals(PAYLOAD)).toBe(true);
  });

  it('round-trips an empty payload', () => {
    const frame = decodeFrame(KEY, 'p', encodeFrame(KEY, 'p', 0, Buffer.alloc(0)));
    expect(frame.payload).toHaveLength(0);
    expect(frame.time).toBe(0);
  });

  it('puts the time big-endian at FRAME_TIME_OFFSET, where a Lua script reads it', () => {
    expect(FRAME_TIME_OFFSET).toBe(8);
    const bytes = encodeFrame(KEY, 'f', TIME, PAYLOAD);
    expect(bytes.readDoubleBE(8)).toBe(TIME);
    expect(bytes.subarray(0, 2).toString('latin1')).toBe('IC');
    expect(bytes.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + PAYLOAD.length).equals(PAYLOAD)).toBe(
      true,
    );
  });

  it.each([
    ['garbage bytes', Buffer.from('definitely not an infercache value, just text')],
    ['an empty value', Buffer.alloc(0)],
    ['a value shorter than a header and a check', Buffer.from('IC\u0002p')],
  ])('refuses %s as format', (_name, bytes) => {
    expect(refusal(() => decodeFrame(KEY, 'p', bytes))).toBe('format');
  });

  it('writes frames one after another into one buffer, each the bytes encodeFrame makes', () => {
    const other = Buffer.from('another payload');
    const out = Buffer.alloc(frameSize(PAYLOAD.length) + frameSize(other.length) + 3, 0xee);
    const middle = encodeFrameInto(out, 3, KEY, 'f', TIME, PAYLOAD);
    const end = encodeFrameInto(out, middle, `${KEY}x`, 'f', TIME + 1, other);
    expect(end).toBe(out.length);
    expect(out.subarray(0, 3).toString('hex')).toBe('eeeeee');
    expect(out.subarray(3, middle).equals(encodeFrame(KEY, 'f', TIME, PAYLOAD))).toBe(true);
    expect(out.subarray(middle, end).equals(encodeFrame(`${KEY}x`, 'f', TIME + 1, other))).toBe(true);
  });

  it('refuses another format version as format', () => {
    for (const version of [1, 2, 4, 255]) {
      const bytes = encodeFrame(KEY, 'p', TIME, PAYLOAD);
      bytes[2] = version;
      expect(refusal(() => decodeFrame(KEY, 'p', bytes))).toBe('format');
    }
  });

  it('refuses a value of another kind as format', () => {
    const bytes = encodeFrame(KEY, 'f', TIME, PAYLOAD);
    expect(refusal(() => decodeFrame(KEY, 'p', bytes))).toBe('format');
    expect(refusal(() => decodeFrame(KEY, 'e', bytes))).toBe('format');
  });

  it('refuses a time that is not a time as format, though its check holds', () => {
    for (const time of [Number.NaN, Number.POSITIVE_INFINITY, -1]) {
      expect(refusal(() => decodeFrame(KEY, 'p', encodeFrame(KEY, 'p', time, PAYLOAD)))).toBe('format');
    }
  });

  it('refuses a truncated value as checksum, at every length that still holds a header', () => {
    const bytes = encodeFrame(KEY, 'p', TIME, PAYLOAD);
    for (let length = FRAME_HEADER_BYTES + 8; length < bytes.length; length++) {
      expect(
        refusal(() => decodeFrame(KEY, 'p', bytes.subarray(0, length))),
        `length ${length}`,
      ).toBe('checksum');
    }
  });

  it('refuses a padded value as checksum', () => {
    const bytes = encodeFrame(KEY, 'p', TIME, PAYLOAD);
    expect(refusal(() => decodeFrame(KEY, 'p', Buffer.concat([bytes, Buffer.from([0])])))).toBe('checksum');
  });

  it('refuses a value with any one byte flipped: format in the magic, version and kind, checksum elsewhere', () => {
    const bytes = encodeFrame(KEY, 'p', TIME, PAYLOAD);
    for (let at = 0; at < bytes.length; at++) {
      const altered = Buffer.from(bytes);
      altered[at] = (altered[at] as number) ^ 0x01;
      const want = at < 4 ? 'format' : 'checksum';
      expect(
        refusal(() => decodeFrame(KEY, 'p', altered)),
        `byte ${at}`,
      ).toBe(want);
    }
  });

  it('ends in the standard XXH64 of its bytes seeded with XXH64 of the key, so any xxhash library can write one', () => {
    // @node-rs/xxhash's XXH64: another implementation of the same algorithm than the frame's own.
    for (const key of [KEY, 'ic:f:view:g0:{7f}entité', '']) {
      const bytes = encodeFrame(key, 'f', TIME, PAYLOAD);
      const end = bytes.length - 8;
      expect(bytes[2]).toBe(3);
      expect(bytes.readBigUInt64LE(end)).toBe(xxh64(bytes.subarray(0, end), xxh64(Buffer.from(key, 'utf8'))));
    }
  });

  it('refuses the same bytes read under another key as checksum', () => {
    const bytes = encodeFrame(KEY, 'p', TIME, PAYLOAD);
    expect(refusal(() => decodeFrame(`${KEY}0`, 'p', bytes))).toBe('checksum');
    expect(refusal(() => decodeFrame(KEY.replace('{ab}', '{ac}'), 'p', bytes))).toBe('checksum');
    expect(refusal(() => decodeFrame(KEY, 'p', bytes))).toBeUndefined();
  });
});
