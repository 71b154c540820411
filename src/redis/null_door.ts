import type { KeyWrite, Links, Outcome, RedisDoor, ScriptCall } from './door.js';
import { failure } from './node_gate.js';

/**
 * The door when no Redis is configured: every read misses, every write is a
 * no-op. Also what fast tests use where Redis is beside the point.
 */
export class NullDoor implements RedisDoor {
  readonly mode = 'none';
  readonly connected = false;

  async getMany(_op: string, keys: readonly string[]): Promise<(Buffer | null)[]> {
    return new Array<Buffer | null>(keys.length).fill(null);
  }

  async setMany(_op: string, _writes: readonly KeyWrite[]): Promise<number> {
    return 0;
  }

  async deleteMany(_op: string, _keys: readonly string[]): Promise<number> {
    return 0;
  }

  slotOf(_key: string): number {
    return 0;
  }

  async evalMany(_op: string, _script: unknown, calls: readonly ScriptCall[]): Promise<Outcome[]> {
    return new Array<Outcome>(calls.length).fill(failure('unavailable'));
  }

  async run(_op: string, _direction: unknown, calls: readonly unknown[]): Promise<Outcome[]> {
    return new Array<Outcome>(calls.length).fill(failure('unavailable'));
  }

  openLinks(): Links {
    return { all: () => [], close: () => {} };
  }

  async close(): Promise<void> {}
}
