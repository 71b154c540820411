import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

// The reflection protos ship inside @grpc/reflection (build/proto next to build/src).
const reflectionPackageMain = createRequire(import.meta.url).resolve('@grpc/reflection');
const REFLECTION_PROTO = join(dirname(reflectionPackageMain), '../proto/grpc/reflection/v1/reflection.proto');

interface ReflectionResponse {
  valid_host: string;
  list_services_response?: { service: { name: string }[] } | null;
  file_descriptor_response?: { file_descriptor_proto: Buffer[] } | null;
  error_response?: { error_code: number; error_message: string } | null;
  message_response: string;
}

/** Sends each request on one ServerReflectionInfo stream and collects one response per request. */
async function reflect(addr: string, requests: Record<string, unknown>[]): Promise<ReflectionResponse[]> {
  const definition = protoLoader.loadSync(REFLECTION_PROTO, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } };
  };
  const client = new loaded.grpc.reflection.v1.ServerReflection(addr, grpc.credentials.createInsecure());
  try {
    const stream = (
      client as unknown as {
        ServerReflectionInfo(o: grpc.CallOptions): grpc.ClientDuplexStream<unknown, ReflectionResponse>;
      }
    ).ServerReflectionInfo({ deadline: Date.now() + 15_000 });
    const responses: ReflectionResponse[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (r: ReflectionResponse) => {
        responses.push(r);
        if (responses.length === requests.length) stream.end();
      });
      stream.on('error', reject);
      stream.on('end', () => resolve());
    });
    for (const r of requests) stream.write(r);
    await done;
    return responses;
  } finally {
    client.close();
  }
}

/** Wraps FileDescriptorProtos in a FileDescriptorSet (field 1, length-delimited). */
function descriptorSet(files: Buffer[]): Buffer {
  const varint = (n: number) => {
    const bytes: number[] = [];
    while (n > 0x7f) {
      bytes.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    bytes.push(n);
    return Buffer.from(bytes);
  };
  return Buffer.concat(files.flatMap((f) => [Buffer.from([0x0a]), varint(f.length), f]));
}

describe('gRPC server reflection', () => {
  let sidecar: Sidecar;
  beforeAll(async () => {
    sidecar = await startSidecar({ redisUrl: '' });
  });
  afterAll(stopAllSidecars);

  it('finds the reflection protos shipped in @grpc/reflection', () => {
    expect(existsSync(REFLECTION_PROTO)).toBe(true);
  });

  it('lists the InferCache, health and reflection services', async () => {
    const [res] = await reflect(sidecar.grpcAddr, [{ list_services: '' }]);
    expect(res?.error_response ?? null).toBeNull();
    const names = (res?.list_services_response?.service ?? []).map((s) => s.name).sort();
    expect(names).toEqual([
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
      'infercache.v1.InferCache',
    ]);
  });

  it('returns a file descriptor describing infercache.v1.InferCache and its methods', async () => {
    const [res] = await reflect(sidecar.grpcAddr, [{ file_containing_symbol: 'infercache.v1.InferCache' }]);
    expect(res?.error_response ?? null).toBeNull();
    const files = res?.file_descriptor_response?.file_descriptor_proto ?? [];
    expect(files.length).toBeGreaterThan(0);

    // Decode what came back with proto-loader: it must describe the service
    // as a client would use it, with both methods and their message types.
    const definition = protoLoader.loadFileDescriptorSetFromBuffer(descriptorSet(files), { keepCase: true });
    const service = definition['infercache.v1.InferCache'] as protoLoader.ServiceDefinition | undefined;
    expect(service).toBeDefined();
    expect(Object.keys(service ?? {}).sort()).toEqual(['ListModels', 'Predict']);
    const predict = service?.Predict;
    expect(predict?.path).toBe('/infercache.v1.InferCache/Predict');
    expect(predict?.requestType.type).toMatchObject({ name: 'PredictRequest' });
    expect(predict?.responseType.type).toMatchObject({ name: 'PredictResponse' });
    expect(definition['infercache.v1.Tensor']).toBeDefined();
  });

  it('answers NOT_FOUND for a symbol it does not serve', async () => {
    const [res] = await reflect(sidecar.grpcAddr, [{ file_containing_symbol: 'no.such.Service' }]);
    expect(res?.error_response?.error_code).toBe(grpc.status.NOT_FOUND);
  });
});
