import * as grpc from '@grpc/grpc-js';
import { quote } from '../errors.js';
import { refusal } from './refusal.js';
import { toServiceError } from './status.js';
import { decodeEmptyRequest } from './wire/empty_request.js';
import { decodeHealthCheckRequest } from './wire/health_request.js';

/** The service name our own API reports under. */
const SERVICE_NAME = 'infercache.v1.InferCache';

// grpc.health.v1.HealthCheckResponse.ServingStatus numbers.
const STATUS = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;
type Status = (typeof STATUS)[keyof typeof STATUS];

// Open Watch streams are capped: each holds a stream and a listener for as
// long as the caller keeps it. (Service names are bounded where they are
// decoded, wire/health_request.ts.)
const MAX_WATCHES = 1024;

type Watch = grpc.ServerWritableStream<Buffer, { status: Status }>;

/** A request of `method` that does not decode, as the status the caller gets. */
const refused = (method: string, error: unknown) =>
  toServiceError(refusal(`grpc.health.v1.Health/${method}`, error));

/**
 * grpc.health.v1: "" and SERVICE_NAME for the whole sidecar, and
 * "infercache.v1.InferCache/<model>" per model (SERVING when a version of it
 * is ready). The overall status is SERVING only while at least one model is
 * ready, and everything turns NOT_SERVING when draining. Written here rather
 * than taken from grpc-health-check, which echoes any service name into its
 * NOT_FOUND message and keeps a map entry per name ever watched.
 */
export class Health {
  readonly #statuses = new Map<string, Status>([
    ['', STATUS.NOT_SERVING],
    [SERVICE_NAME, STATUS.NOT_SERVING],
  ]);
  readonly #models = new Map<string, boolean>();
  readonly #watches = new Map<string, Set<Watch>>();
  #watchCount = 0;
  #wanted: 'SERVING' | 'NOT_SERVING' = 'NOT_SERVING';

  /**
   * Registers the service, given grpc.health.v1.Health's definition with raw
   * requests (unary.ts rawRequests): the handlers decode the bytes themselves.
   */
  addToServer(server: grpc.Server, service: grpc.ServiceDefinition): void {
    server.addService(service, {
      Check: (call: grpc.ServerUnaryCall<Buffer, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        let name: string;
        try {
          name = decodeHealthCheckRequest(call.request);
        } catch (error) {
          return callback(refused('Check', error));
        }
        const status = this.#statuses.get(name);
        if (status === undefined) {
          return callback({ code: grpc.status.NOT_FOUND, details: `unknown service ${quote(name)}` });
        }
        callback(null, { status });
      },
      Watch: (call: Watch) => this.#watch(call),
      List: (call: grpc.ServerUnaryCall<Buffer, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        try {
          decodeEmptyRequest(call.request);
        } catch (error) {
          return callback(refused('List', error));
        }
        const statuses: Record<string, { status: Status }> = {};
        for (const [name, status] of this.#statuses) statuses[name] = { status };
        callback(null, { statuses });
      },
    });
  }

  setModel(name: string, ready: boolean): void {
    this.#models.set(name, ready);
    this.#apply();
  }

  serving(): void {
    this.#wanted = 'SERVING';
    this.#apply();
  }

  draining(): void {
    this.#wanted = 'NOT_SERVING';
    this.#apply();
  }

  /** Ends every open Watch stream (after it was told NOT_SERVING), so none holds a shutdown. */
  endWatches(): void {
    for (const set of this.#watches.values()) for (const call of set) call.end();
    this.#watches.clear();
    this.#watchCount = 0;
  }

  #watch(call: Watch): void {
    let name: string;
    try {
      name = decodeHealthCheckRequest(call.request);
    } catch (error) {
      // grpc-js ends a server stream with the status of an 'error' event.
      call.emit('error', refused('Watch', error));
      return;
    }
    if (this.#watchCount >= MAX_WATCHES) {
      call.emit('error', {
        code: grpc.status.RESOURCE_EXHAUSTED,
        details: `too many health Watch streams open (at most ${MAX_WATCHES})`,
      });
      return;
    }
    let set = this.#watches.get(name);
    if (set === undefined) {
      set = new Set();
      this.#watches.set(name, set);
    }
    set.add(call);
    this.#watchCount++;
    const forget = () => {
      const current = this.#watches.get(name);
      if (current?.delete(call)) {
        this.#watchCount--;
        if (current.size === 0) this.#watches.delete(name);
      }
    };
    call.on('cancelled', forget);
    call.on('close', forget);
    call.write({ status: this.#statuses.get(name) ?? STATUS.SERVICE_UNKNOWN });
  }

  #apply(): void {
    // The sidecar as a whole serves only when at least one model can answer.
    const anyReady = [...this.#models.values()].some(Boolean);
    const overall = this.#wanted === 'SERVING' && anyReady ? STATUS.SERVING : STATUS.NOT_SERVING;
    this.#set('', overall);
    this.#set(SERVICE_NAME, overall);
    for (const [name, ready] of this.#models) {
      this.#set(
        `${SERVICE_NAME}/${name}`,
        overall === STATUS.SERVING && ready ? STATUS.SERVING : STATUS.NOT_SERVING,
      );
    }
  }

  #set(name: string, status: Status): void {
    if (this.#statuses.get(name) === status) return;
    this.#statuses.set(name, status);
    for (const call of this.#watches.get(name) ?? []) call.write({ status });
  }
}
