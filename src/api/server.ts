import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { InferCacheError } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import type { Metrics } from '../ops/metrics.js';
import { Admission } from './admission.js';
import type { Health } from './health.js';
import { inferCacheService, loadPackageDefinition } from './proto.js';
import { toServiceError } from './status.js';

export interface ServerOptions {
  readonly addr: string;
  readonly maxMessageBytes: number;
  readonly maxInflightCalls: number;
}

/** A handler gets the request and the call's deadline (epoch ms; Infinity when none). */
type AsyncUnary = (request: unknown, deadline: number) => Promise<unknown>;

/**
 * The gRPC server: our service, grpc.health.v1, and server reflection over
 * both (so `grpcurl list`/`describe` work with no proto files). Every call
 * goes through `unary`, which times it, counts it by status code and maps
 * errors to statuses in one place.
 */
export async function startGrpcServer(
  options: ServerOptions,
  handlers: Record<'Predict' | 'ListModels', AsyncUnary>,
  health: Health,
  metrics: Metrics,
  log: Logger,
): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.maxMessageBytes,
    'grpc.max_send_message_length': options.maxMessageBytes,
  });
  const definition = loadPackageDefinition();
  const admission = new Admission(options.maxInflightCalls);
  server.addService(inferCacheService(definition), {
    Predict: unary('Predict', handlers.Predict, admission, metrics, log),
    ListModels: unary('ListModels', handlers.ListModels, admission, metrics, log),
  });
  health.addToServer(server);
  // Describe the reflection service too, so `list` shows every service served.
  new ReflectionService({ ...definition, ...reflectionDefinition() }).addToServer(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(options.addr, grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
  return { server, port };
}

/** grpc.reflection.v1 from the proto file shipped inside @grpc/reflection (build/proto beside build/src). */
function reflectionDefinition(): protoLoader.PackageDefinition {
  const main = createRequire(import.meta.url).resolve('@grpc/reflection');
  return protoLoader.loadSync(join(dirname(main), '../proto/grpc/reflection/v1/reflection.proto'), {
    keepCase: true,
  });
}

const OVERLOADED = new InferCacheError('E_OVERLOADED', 'too many calls in progress; retry later');

function unary(
  method: string,
  handler: AsyncUnary,
  admission: Admission,
  metrics: Metrics,
  log: Logger,
): grpc.handleUnaryCall<unknown, unknown> {
  // Label children per status code, made once: labels() hashes on every call.
  const byCode = new Map<grpc.status, { calls: { inc(): void }; seconds: { observe(v: number): void } }>();
  const count = (code: grpc.status, startedAt?: number) => {
    let c = byCode.get(code);
    if (c === undefined) {
      const name = grpc.status[code] ?? String(code);
      c = {
        calls: metrics.requests.labels(method, name),
        seconds: metrics.requestDuration.labels(method, name),
      };
      byCode.set(code, c);
    }
    c.calls.inc();
    if (startedAt !== undefined) c.seconds.observe((performance.now() - startedAt) / 1000);
  };
  return (call, callback) => {
    if (!admission.enter()) {
      const refused = toServiceError(OVERLOADED);
      count(refused.code);
      callback(refused);
      return;
    }
    const startedAt = performance.now();
    handler(call.request, deadlineOf(call)).then(
      (response) => {
        admission.leave();
        count(grpc.status.OK, startedAt);
        callback(null, response);
      },
      (error: unknown) => {
        admission.leave();
        const mapped = toServiceError(error);
        count(mapped.code, startedAt);
        if (mapped.code === grpc.status.INTERNAL) log.error({ err: error, method }, 'call failed');
        callback(mapped);
      },
    );
  };
}

function deadlineOf(call: grpc.ServerUnaryCall<unknown, unknown>): number {
  const deadline = call.getDeadline();
  return deadline instanceof Date ? deadline.getTime() : deadline;
}
