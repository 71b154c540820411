import { createHash } from 'node:crypto';
import type { CacheKind } from '../cache/kind.js';
import { encodeFrame, encodeFrameInto, frameSize } from '../cache/value_frame.js';
import type { LuaScript, ScriptCall } from '../redis/door.js';
import type { FeatureRow } from './feature_row.js';

/**
 * Stores a feature row unless the stored one has a newer event time, in one
 * atomic step on the server: no read-then-write race between writers (a
 * writer that reads the stored time, then writes, can be overtaken between
 * the two). The event time sits big-endian at byte 8 of every frame
 * (cache/value_frame.ts); Lua reads it with struct.unpack (1-based: 9).
 * A stored value that is not a frame (too short) is replaced.
 * KEYS[1] the row's key; ARGV[1] the framed row; ARGV[2] its event time
 * (ms); ARGV[3] its TTL (ms). Returns 1 when stored, 0 when the stored row
 * is newer.
 */
const SOURCE = `
local current = redis.call('GET', KEYS[1])
if current and #current >= 16 then
  local stored = struct.unpack('>d', current, 9)
  if stored > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
`;

export const NEWER_WINS: LuaScript = {
  source: SOURCE,
  sha: createHash('sha1').update(SOURCE).digest('hex'),
};

/**
 * NEWER_WINS for many keys of one hash slot in one call, as the bulk loader
 * sends them: KEYS[i] is row i's key; ARGV[1] the TTL (ms) of every row of
 * the call; ARGV[2] the rows' frames one after another, each row's event time
 * read from its own frame (its length is the u32 at byte 5, little-endian;
 * 24 bytes of header and check around the payload). Two arguments per call
 * rather than three per row: ioredis turned each argument into bytes of the
 * command one by one, and that was the loader's largest cost. Returns one 1
 * or 0 per key, in order. The rule per key is NEWER_WINS's; a key given twice
 * sees the write of its earlier row, as two calls in a row would. The rows of
 * a call share one TTL: they are written at the same moment, and the jitter
 * that keeps rows written together from expiring together spreads the calls.
 */
const SOURCE_MANY = `
local ttl = ARGV[1]
local frames = ARGV[2]
local at = 1
local out = {}
for i = 1, #KEYS do
  local size = struct.unpack('<I4', frames, at + 4) + 24
  local frame = string.sub(frames, at, at + size - 1)
  local time = struct.unpack('>d', frames, at + 8)
  at = at + size
  local newer = false
  local current = redis.call('GET', KEYS[i])
  if current and #current >= 16 then
    newer = struct.unpack('>d', current, 9) > time
  end
  if newer then
    out[i] = 0
  else
    redis.call('SET', KEYS[i], frame, 'PX', ttl)
    out[i] = 1
  end
end
return out
`;

export const NEWER_WINS_MANY: LuaScript = {
  source: SOURCE_MANY,
  sha: createHash('sha1').update(SOURCE_MANY).digest('hex'),
};

/**
 * The call of NEWER_WINS_MANY that stores `rows` under `keys` (of one hash
 * slot, in the order given), with one TTL for all: the first row's, jitter
 * included.
 */
export function newerWinsManyCall(
  kind: CacheKind<FeatureRow>,
  keys: readonly string[],
  rows: readonly FeatureRow[],
): ScriptCall {
  // Framed into one buffer: no buffer per frame, and no second copy to join them.
  const payloads = rows.map((row) => kind.encode(row));
  const frames = Buffer.allocUnsafe(payloads.reduce((n, p) => n + frameSize(p.length), 0));
  let at = 0;
  for (let i = 0; i < rows.length; i++) {
    const time = (rows[i] as FeatureRow).eventTime;
    at = encodeFrameInto(frames, at, keys[i] as string, kind.id, time, payloads[i] as Uint8Array);
  }
  const ttl = rows.length === 0 ? 0 : kind.ttl(rows[0] as FeatureRow).l2Ms;
  return { key: keys[0] as string, keys: keys.slice(1), args: [String(ttl), frames] };
}

/** The call of NEWER_WINS that stores `row` under `key`: PutFeatures and the bulk loader send the same bytes. */
export function newerWinsCall(
  kind: CacheKind<FeatureRow>,
  key: string,
  row: FeatureRow,
  l2Ms: number = kind.ttl(row).l2Ms,
): ScriptCall {
  const frame = encodeFrame(key, kind.id, row.eventTime, kind.encode(row));
  return { key, args: [frame, String(row.eventTime), String(l2Ms)] };
}
