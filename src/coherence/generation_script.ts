import { createHash } from 'node:crypto';
import type { LuaScript } from '../redis/door.js';

/**
 * Moves a scope's generation on: past the one Redis holds, and at least to
 * Redis's clock in ms. A Redis restarted without persistence (or flushed)
 * forgets its generations, while every sidecar still knows the old ones and
 * never moves one back: a plain counter would start again at 1 and the next
 * invalidation would change nothing anywhere. The clock keeps each new
 * generation above any handed out before.
 * KEYS[1] the generations hash; ARGV[1] the scope. Returns the generation.
 */
const SOURCE = `
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local g = math.max(current + 1, now)
redis.call('HSET', KEYS[1], ARGV[1], string.format('%d', g))
return g
`;

export const BUMP_GENERATION: LuaScript = {
  source: SOURCE,
  sha: createHash('sha1').update(SOURCE).digest('hex'),
};
