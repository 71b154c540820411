import type { Server, ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';

/** The service name our own API reports under. */
const SERVICE_NAME = 'infercache.v1.InferCache';

/**
 * grpc.health.v1 statuses: "" and SERVICE_NAME for the whole sidecar, and
 * "infercache.v1.InferCache/<model>" per model (SERVING when a version of it
 * loaded). The overall status is SERVING only while at least one model is
 * ready, and everything turns NOT_SERVING when draining.
 */
export class Health {
  readonly #implementation = new HealthImplementation({ '': 'NOT_SERVING', [SERVICE_NAME]: 'NOT_SERVING' });
  readonly #models = new Map<string, boolean>();
  readonly #watches = new Set<ServerWritableStream<unknown, unknown>>();

  /**
   * Registers grpc.health.v1 on the server, keeping hold of Watch streams:
   * grpc-health-check never ends them, and an open stream would hold a
   * graceful shutdown until its grace period ran out.
   */
  addToServer(server: Server): void {
    this.#implementation.addToServer({
      addService: (service, impl: UntypedServiceImplementation) => {
        const watch = impl.watch as (call: ServerWritableStream<unknown, unknown>) => void;
        server.addService(service, {
          ...impl,
          watch: (call: ServerWritableStream<unknown, unknown>) => {
            this.#watches.add(call);
            call.on('close', () => this.#watches.delete(call));
            call.on('cancelled', () => this.#watches.delete(call));
            watch(call);
          },
        });
      },
    });
  }

  /** Ends every open Watch stream (after it was told NOT_SERVING). */
  endWatches(): void {
    for (const call of this.#watches) call.end();
    this.#watches.clear();
  }

  setModel(name: string, ready: boolean): void {
    this.#models.set(name, ready);
  }

  serving(): void {
    this.#set('SERVING');
  }

  draining(): void {
    this.#set('NOT_SERVING');
  }

  #set(requested: ServingStatus): void {
    // The sidecar as a whole serves only when at least one model can answer.
    const anyReady = [...this.#models.values()].some(Boolean);
    const overall: ServingStatus = requested === 'SERVING' && anyReady ? 'SERVING' : 'NOT_SERVING';
    this.#implementation.setStatus('', overall);
    this.#implementation.setStatus(SERVICE_NAME, overall);
    for (const [name, ready] of this.#models) {
      this.#implementation.setStatus(
        `${SERVICE_NAME}/${name}`,
        overall === 'SERVING' && ready ? 'SERVING' : 'NOT_SERVING',
      );
    }
  }
}
