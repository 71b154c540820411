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

  #set(requested: ServingStatus): void {
    // The sidecar as a whole serves only when at least one model can answer.
    const anyReady = [...this.#models.values()].some(Boolean);
    const overall: ServingStatus = requested === 'SERVING' && anyReady ? 'SERVING' : 'NOT_SERVING';
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
