import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../ops/logger.js';
import type { Metrics } from '../ops/metrics.js';
import { Admission } from './admission.js';
import { callMetricsInterceptor } from './call_metrics.js';
import type { Health } from './health.js';
import { healthService, inferCacheService, loadPackageDefinition } from './proto.js';
import { addReflection } from './reflection/service.js';
import { rawRequests, type UnaryHandler, unary } from './unary.js';

export interface ServerOptions {
  readonly addr: string;
  readonly maxMessageBytes: number;
  readonly maxInflightCalls: number;
}

/**
 * The gRPC server: our service, grpc.health.v1, and server reflection over
 * both (so `grpcurl list`/`describe` work with no proto files). Every call
 * is counted by the call-metrics interceptor, including those grpc-js ends
 * before a handler runs; every unary method of ours goes through `unary`.
 */
export async function startGrpcServer(
  options: ServerOptions,
  handlers: Readonly<Record<string, UnaryHandler>>,
  streams: Readonly<Record<string, grpc.handleServerStreamingCall<Buffer, unknown>>>,
  health: Health,
  metrics: Metrics,
  log: Logger,
): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.maxMessageBytes,
    'grpc.max_send_message_length': options.maxMessageBytes,
    // No channelz service is served: its per-call bookkeeping (a tracker of
    // closures, clock reads per message) would be paid on every call for nothing.
    'grpc.enable_channelz': 0,
    interceptors: [callMetricsInterceptor(metrics.api)],
  });
  const definition = loadPackageDefinition();
  const admission = new Admission(options.maxInflightCalls);
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [name, handler] of Object.entries(handlers)) {
    implementation[name] = unary(name, handler, admission, metrics.api.requestBytes.labels(name), log);
  }
  for (const [name, handler] of Object.entries(streams)) implementation[name] = handler;
  server.addService(rawRequests(inferCacheService(definition)), implementation);
  health.addToServer(server, rawRequests(healthService(definition)));
  addReflection(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(options.addr, grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
  return { server, port };
}
