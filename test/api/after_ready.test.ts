import { describe, expect, it } from 'vitest';
import { afterReady } from '../../src/api/unary.js';
import { InferCacheError } from '../../src/errors.js';

describe('calls that wait for the fleet state', () => {
  it('run once the state is ready, and at once when it is', async () => {
    let release: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      release = resolve;
    });
    let pending: Promise<void> | undefined = ready;
    const handler = afterReady(
      () => pending,
      async () => 'answered',
    );
    const signal = new AbortController().signal;
    const first = handler(Buffer.alloc(0), { deadline: Number.POSITIVE_INFINITY, signal });
    let done = false;
    void first.then(() => {
      done = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(done).toBe(false);
    release();
    await expect(first).resolves.toBe('answered');
    pending = undefined;
    await expect(handler(Buffer.alloc(0), { deadline: Number.POSITIVE_INFINITY, signal })).resolves.toBe(
      'answered',
    );
  });

  it('wait no longer than the call: its deadline or cancellation ends the wait', async () => {
    const never = new Promise<void>(() => {});
    let ran = false;
    const handler = afterReady(
      () => never,
      async () => {
        ran = true;
        return 'answered';
      },
    );
    const controller = new AbortController();
    const call = handler(Buffer.alloc(0), { deadline: Date.now() + 30, signal: controller.signal });
    setTimeout(() => controller.abort(new InferCacheError('E_DEADLINE_EXCEEDED', 'the deadline passed')), 30);
    await expect(call).rejects.toThrow('the deadline passed');
    expect(ran).toBe(false);
  }, 5000);
});
