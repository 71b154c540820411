import type { RedisCall, RedisReply, RedisTransport } from './transport.js';

/**
 * Faults a test can switch on below the failure door, to see what the door
 * and everything above it make of them:
 * - throw: the round trip rejects (a connection torn down mid-call)
 * - replyErrors: the round trip resolves, every command inside failed
 *   (ioredis's pipeline shape for OOM, READONLY, per-command timeouts)
 * - delay: the answer comes, late
 * - late: the commands run at once, their answer comes late (a reply still
 *   on its way while other calls change what it read)
 * - hang: no answer, ever (a stalled server)
 */
export type ChaosFault =
  | { readonly kind: 'throw'; readonly error: Error }
  | { readonly kind: 'replyErrors'; readonly error: Error }
  | { readonly kind: 'delay'; readonly ms: number }
  | { readonly kind: 'late'; readonly ms: number }
  | { readonly kind: 'hang' };

/** A transport that passes through to a real one until a fault is injected. */
export class ChaosTransport implements RedisTransport {
  readonly #inner: RedisTransport;
  #fault: ChaosFault | undefined;
  /** Round trips attempted, faulty or not. */
  calls = 0;

  constructor(inner: RedisTransport) {
    this.#inner = inner;
  }

  get mode(): 'single' | 'cluster' {
    return this.#inner.mode;
  }

  inject(fault: ChaosFault | undefined): void {
    this.#fault = fault;
  }

  nodeOf(key: string | undefined): string {
    return this.#inner.nodeOf(key);
  }

  slotOf(key: string): number {
    return this.#inner.slotOf(key);
  }

  nodes(): string[] {
    return this.#inner.nodes();
  }

  isConnected(node: string): boolean {
    return this.#inner.isConnected(node);
  }

  async exec(node: string, calls: readonly RedisCall[]): Promise<RedisReply[]> {
    this.calls++;
    const fault = this.#fault;
    if (fault === undefined) return this.#inner.exec(node, calls);
    switch (fault.kind) {
      case 'throw':
        throw fault.error;
      case 'replyErrors':
        return calls.map(() => [fault.error, null]);
      case 'delay':
        await new Promise((resolve) => setTimeout(resolve, fault.ms));
        return this.#inner.exec(node, calls);
      case 'late': {
        const replies = await this.#inner.exec(node, calls);
        await new Promise((resolve) => setTimeout(resolve, fault.ms));
        return replies;
      }
      case 'hang':
        return new Promise<never>(() => {});
    }
  }

  refreshTopology(): void {
    this.#inner.refreshTopology();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
