import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const protoRoot = fileURLToPath(new URL('../../proto', import.meta.url));

/** The service's proto file and grpc.health.v1, relative to `protoRoot`. */
const INFERCACHE_PROTO = 'infercache/v1/infercache.proto';
const HEALTH_PROTO = 'grpc/health/v1/health.proto';

// keepCase keeps the proto's snake_case names; longs as strings keep int64
// values exact (JS numbers lose precision past 2^53); defaults make every
// field present so handlers need no undefined checks.
const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: Number,
  defaults: true,
  arrays: true,
  oneofs: true,
  includeDirs: [protoRoot],
};

/** Our service plus grpc.health.v1, for the clients of both (CLI, tests, benchmarks). */
export function loadPackageDefinition(): protoLoader.PackageDefinition {
  return protoLoader.loadSync([INFERCACHE_PROTO, HEALTH_PROTO], LOADER_OPTIONS);
}

export function inferCacheService(definition: protoLoader.PackageDefinition): grpc.ServiceDefinition {
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    infercache: { v1: { InferCache: grpc.ServiceClientConstructor } };
  };
  return loaded.infercache.v1.InferCache.service;
}

export function inferCacheClientConstructor(
  definition: protoLoader.PackageDefinition,
): grpc.ServiceClientConstructor {
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    infercache: { v1: { InferCache: grpc.ServiceClientConstructor } };
  };
  return loaded.infercache.v1.InferCache;
}

export function healthService(definition: protoLoader.PackageDefinition): grpc.ServiceDefinition {
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
  };
  return loaded.grpc.health.v1.Health.service;
}
