import { describe, expect, it } from 'vitest';
import { Slots } from '../../src/warming/slots.js';

const never = new AbortController().signal;
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Records when `p` resolves or rejects. */
function watch<T>(p: Promise<T>) {
  const state: { value?: T; error?: unknown; settled: boolean } = { settled: false };
  p.then(
    (value) => Object.assign(state, { value, settled: true }),
    (error: unknown) => Object.assign(state, { error, settled: true }),
  );
  return state;
}

describe('Slots', () => {
  it('hands out at most its size at once; a release goes to the next in line', async () => {
    const slots = new Slots(2);
    const first = await slots.take(never);
    await slots.take(never);
    const third = watch(slots.take(never));
    await tick();
    expect(third.settled).toBe(false);
    first();
    await tick();
    expect(third.settled).toBe(true);
    expect(third.value).toBeTypeOf('function');
  });

  it('drops an aborted waiter from the line, so the slot it would have had goes to the next', async () => {
    const slots = new Slots(1);
    const held = await slots.take(never);
    const controller = new AbortController();
    const aborted = watch(slots.take(controller.signal));
    const next = watch(slots.take(never));
    controller.abort(new Error('budget spent'));
    await tick();
    expect(aborted.error).toEqual(new Error('budget spent'));
    held();
    await tick();
    expect(next.settled).toBe(true);
    // Released again, the one slot is free: nothing was lost to the aborted wait.
    next.value?.();
    const again = watch(slots.take(never));
    await tick();
    expect(again.settled).toBe(true);
  });

  it('counts a release once, however often it is called', async () => {
    const slots = new Slots(1);
    const release = await slots.take(never);
    release();
    release();
    await slots.take(never);
    const waiting = watch(slots.take(never));
    await tick();
    expect(waiting.settled).toBe(false);
  });

  it('refuses at once with a signal that has fired', async () => {
    const slots = new Slots(1);
    expect(() => slots.take(AbortSignal.abort(new Error('gone')))).toThrow('gone');
  });
});
