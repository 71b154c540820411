import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Tracking } from '../../src/coherence/tracking.js';
import type { LinkPayload } from '../../src/redis/door.js';
import { openDoor, waitUntil } from '../helpers/door.js';
import { memoryLog } from '../helpers/memory_log.js';
import { redisCommand, redisText } from '../helpers/redis_command.js';
import { sharedRedisUrl } from '../helpers/shared_redis.js';

describe('a coherence link', () => {
  // Client tracking's invalidations reach L1 only as RESP2 pub/sub messages:
  // over RESP3 Redis sends them as push messages, which ioredis drops. ioredis
  // 5 speaks RESP2 only; a client upgrade that changed that fails here.
  it('speaks RESP2: tracking invalidations arrive as pub/sub messages on __redis__:invalidate', async () => {
    const url = sharedRedisUrl();
    const port = Number(new URL(url).port);
    const prefix = `resp2-${randomBytes(4).toString('hex')}:`;
    const d = await openDoor(url);
    const ids: string[] = [];
    const messages: [string, LinkPayload][] = [];
    const tracking = new Tracking([prefix], true, { onKeys: () => {}, onLost: () => {} }, memoryLog().log);
    const links = d.door.openLinks({
      onReady: async (link) => {
        ids.push(String(await link.command('CLIENT', 'ID')));
        await tracking.arm(link, () => link.subscribe('__redis__:invalidate'));
      },
      onMessage: (channel, payload) => messages.push([channel, payload]),
      onDown: () => {},
    });
    try {
      await waitUntil('the link armed', () => links.all().some((l) => l.up));
      expect(tracking.mode).toBe('bcast');
      const info = await redisText(port, ['CLIENT', 'LIST', 'ID', ids[0] as string]);
      expect(info).toMatch(/ resp=2\b/);

      await redisCommand(port, ['SET', `${prefix}k`, 'v']);
      await waitUntil('the invalidation', () => messages.length > 0);
      const [channel, payload] = messages[0] as [string, LinkPayload];
      expect(channel).toBe('__redis__:invalidate');
      expect(Array.isArray(payload) ? payload.map(String) : payload).toEqual([`${prefix}k`]);
    } finally {
      links.close();
      await d.close();
    }
  });
});
