import { HealthImplementation, type ServingStatus } from 'grpc-health-check';

/** The service name our own API reports under. */
export const SERVICE_NAME = 'infercache.v1.InferCache';

/**
 * grpc.health.v1 statuses: "" and SERVICE_NAME for the whole sidecar, and
 * "infercache.v1.InferCache/<model>" per model (SERVING when a version of it
 * loaded). Everything turns NOT_SERVING when draining.
 */
export class Health {
  readonly implementation = new HealthImplementation({ '': 'NOT_SERVING', [SERVICE_NAME]: 'NOT_SERVING' });
  readonly #models = new Map<string, boolean>();

  setModel(name: string, ready: boolean): void {
    this.#models.set(name, ready);
  }

  serving(): void {
    this.#set('SERVING');
  }

  draining(): void {
    this.#set('NOT_SERVING');
  }

  #set(overall: ServingStatus): void {
    this.implementation.setStatus('', overall);
    this.implementation.setStatus(SERVICE_NAME, overall);
    for (const [name, ready] of this.#models) {
      this.implementation.setStatus(
        `${SERVICE_NAME}/${name}`,
        overall === 'SERVING' && ready ? 'SERVING' : 'NOT_SERVING',
      );
    }
  }
}
