import { describe, expect, it } from 'vitest';
import { Tracking } from '../../src/coherence/tracking.js';
import type { NodeLink } from '../../src/redis/door.js';
import { memoryLog } from '../helpers/memory_log.js';

/** A link that answers CLIENT ID with 7 and anything else with OK, recording each command. */
function fakeLink(events: string[], refuse = false): NodeLink {
  return {
    node: '127.0.0.1:6379',
    command: async (...args: (string | number)[]) => {
      events.push(args.join(' '));
      if (refuse) throw new Error('ERR unknown command');
      return args[1] === 'ID' ? 7 : 'OK';
    },
  } as unknown as NodeLink;
}

function tracking(events: string[], enabled = true): Tracking {
  return new Tracking(
    ['pfx:f:'],
    enabled,
    { onKeys: () => {}, onLost: () => events.push('drop tracked kinds from L1') },
    memoryLog().log,
  );
}

describe('arming client tracking on a link', () => {
  it('on a re-arm drops the tracked kinds only once the SUBSCRIBE is answered', async () => {
    const events: string[] = [];
    const t = tracking(events);
    const link = fakeLink(events);
    await t.arm(link, async () => {
      events.push('subscribe');
    });
    // First arm of this node: nothing can have been missed.
    expect(events).toEqual(['CLIENT ID', 'CLIENT TRACKING ON REDIRECT 7 BCAST PREFIX pfx:f:', 'subscribe']);

    events.length = 0;
    let answer!: () => void;
    const rearm = t.arm(link, () => {
      events.push('subscribe');
      return new Promise<void>((resolve) => {
        answer = resolve;
      });
    });
    while (!events.includes('subscribe')) await new Promise((r) => setImmediate(r));
    // Until Redis answers the SUBSCRIBE it drops the invalidations it owes
    // this link (RESP2): a row read into L1 now could change unreported, so
    // dropping now would keep that row.
    expect(events).not.toContain('drop tracked kinds from L1');
    answer();
    await rearm;
    expect(events.at(-1)).toBe('drop tracked kinds from L1');
  });

  it('subscribes all the same when tracking is off or refused', async () => {
    for (const [enabled, refuse] of [
      [false, false],
      [true, true],
    ] as const) {
      const events: string[] = [];
      const t = tracking(events, enabled);
      await t.arm(fakeLink(events, refuse), async () => {
        events.push('subscribe');
      });
      expect(events.at(-1)).toBe('subscribe');
      expect(t.mode).toBe(enabled ? 'refused' : 'off');
    }
  });
});
