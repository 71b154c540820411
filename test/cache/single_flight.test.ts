import { describe, expect, it } from 'vitest';
import { SingleFlight } from '../../src/cache/single_flight.js';

describe('single-flight', () => {
  it('lets a second caller wait for a key the first is computing, and forgets it once settled', async () => {
    const flight = new SingleFlight<string>();
    const claim = flight.claim(['a', 'b']);
    const waiting = flight.pending('a');
    expect(waiting).toBeDefined();
    expect(flight.pending('c')).toBeUndefined();
    claim.resolve(0, 'A');
    await expect(waiting).resolves.toBe('A');
    expect(flight.pending('a')).toBeUndefined();
    expect(flight.size).toBe(1);
    claim.resolve(1, 'B');
    expect(flight.size).toBe(0);
  });

  it('tells whether a key is being computed, until its claim settles', () => {
    const flight = new SingleFlight<string>();
    const claim = flight.claim(['a', 'b']);
    expect([flight.has('a'), flight.has('b'), flight.has('c')]).toEqual([true, true, false]);
    claim.resolve(0, 'A');
    expect([flight.has('a'), flight.has('b')]).toEqual([false, true]);
    claim.reject(new Error('model failed'));
    expect(flight.has('b')).toBe(false);
  });

  it('passes a failure to every waiter and clears all claimed keys', async () => {
    const flight = new SingleFlight<string>();
    const claim = flight.claim(['a', 'b']);
    const a = flight.pending('a');
    const b = flight.pending('b');
    claim.reject(new Error('model failed'));
    await expect(a).rejects.toThrow('model failed');
    await expect(b).rejects.toThrow('model failed');
    expect(flight.size).toBe(0);
  });
});
