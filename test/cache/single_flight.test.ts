import { describe, expect, it } from 'vitest';
import { SingleFlight } from '../../src/cache/single_flight.js';

describe('single-flight', () => {
  it('lets a second caller wait for a key the first is computing, and forgets it once settled', async () => {
    const flight = new SingleFlight<string>();
    const claim = flight.claim(['a', 'b']);
    const waiting = flight.pending('a');
    expect(waiting).toBeDefined();
    expect(flight.pending('c')).toBeUndefined();
    claim.resolve('a', 'A');
    await expect(waiting).resolves.toBe('A');
    expect(flight.pending('a')).toBeUndefined();
    expect(flight.size).toBe(1);
    claim.resolve('b', 'B');
    expect(flight.size).toBe(0);
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
