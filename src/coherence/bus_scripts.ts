import { createHash } from 'node:crypto';
import type { LuaScript } from '../redis/door.js';

/**
 * Appends a change to the bus log and publishes it, in one atomic step: a
 * subscriber never sees a message the log lacks. The log is a Stream capped
 * near ARGV[2] entries (MAXLEN ~: trimming whole nodes is cheap).
 * KEYS[1] the log; ARGV[1] the channel; ARGV[2] the cap; ARGV[3] the body.
 * Publishes "<entry id> <body>"; returns the entry id.
 */
const SOURCE = `
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'm', ARGV[3])
redis.call('PUBLISH', ARGV[1], id .. ' ' .. ARGV[3])
return id
`;

export const APPEND_AND_PUBLISH: LuaScript = {
  source: SOURCE,
  sha: createHash('sha1').update(SOURCE).digest('hex'),
};
