import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inferCacheService, loadPackageDefinition } from '../../src/api/proto.js';
import { describeFiles, descriptorSet, reflect } from '../helpers/reflection_client.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

const SERVED = [
  'grpc.health.v1.Health',
  'grpc.reflection.v1.ServerReflection',
  'grpc.reflection.v1alpha.ServerReflection',
  'infercache.v1.InferCache',
];

describe('gRPC server reflection', () => {
  let sidecar: Sidecar;
  beforeAll(async () => {
    sidecar = await startSidecar({ redisUrl: '' });
  });
  afterAll(stopAllSidecars);

  it.each(['v1', 'v1alpha'] as const)(
    'lists the InferCache, health and both reflection services (%s)',
    async (version) => {
      const [res] = await reflect(sidecar.grpcAddr, [{ list_services: '' }], version);
      expect(res?.error_response ?? null).toBeNull();
      expect((res?.list_services_response?.service ?? []).map((s) => s.name)).toEqual(SERVED);
    },
  );

  it('returns a file descriptor describing infercache.v1.InferCache and its methods', async () => {
    const [res] = await reflect(sidecar.grpcAddr, [{ file_containing_symbol: 'infercache.v1.InferCache' }]);
    expect(res?.error_response ?? null).toBeNull();
    const files = res?.file_descriptor_response?.file_descriptor_proto ?? [];
    // The file, then every file it imports, so a client can build it from the answer alone.
    expect(describeFiles(files).map((f) => f.proto.name)).toEqual([
      'infercache/v1/infercache.proto',
      'infercache/v1/admin.proto',
      'infercache/v1/features.proto',
    ]);

    // Decode what came back with proto-loader: it must describe the service
    // as a client would use it, with both methods and their message types.
    const definition = protoLoader.loadFileDescriptorSetFromBuffer(descriptorSet(files), { keepCase: true });
    const service = definition['infercache.v1.InferCache'] as protoLoader.ServiceDefinition | undefined;
    expect(service).toBeDefined();
    expect(Object.keys(service ?? {}).sort()).toEqual(
      Object.keys(inferCacheService(loadPackageDefinition())).sort(),
    );
    const predict = service?.Predict;
    expect(predict?.path).toBe('/infercache.v1.InferCache/Predict');
    expect(predict?.requestType.type).toMatchObject({ name: 'PredictRequest' });
    expect(predict?.responseType.type).toMatchObject({ name: 'PredictResponse' });
    expect(definition['infercache.v1.Tensor']).toBeDefined();
  });

  it('finds the file of a method, a nested enum, an enum value and a field', async () => {
    const symbols = [
      'infercache.v1.InferCache.Predict',
      'infercache.v1.ModelVersion.State',
      'infercache.v1.ROW_SOURCE_L1',
      'infercache.v1.PredictRequest.inputs',
      'grpc.health.v1.HealthCheckResponse.ServingStatus',
      'grpc.reflection.v1alpha.ServerReflectionRequest',
    ];
    const responses = await reflect(
      sidecar.grpcAddr,
      symbols.map((s) => ({ file_containing_symbol: s })),
    );
    const names = responses.map(
      (r) => describeFiles(r.file_descriptor_response?.file_descriptor_proto ?? [])[0]?.proto.name,
    );
    expect(names).toEqual([
      'infercache/v1/infercache.proto',
      'infercache/v1/infercache.proto',
      'infercache/v1/infercache.proto',
      'infercache/v1/infercache.proto',
      'grpc/health/v1/health.proto',
      'grpc/reflection/v1alpha/reflection.proto',
    ]);
  });

  it('answers every request of one stream in order, echoing each request', async () => {
    const requests = [
      { list_services: '' },
      { file_by_filename: 'grpc/health/v1/health.proto' },
      { list_services: '' },
    ];
    const responses = await reflect(sidecar.grpcAddr, requests);
    expect(responses.map((r) => r.message_response)).toEqual([
      'list_services_response',
      'file_descriptor_response',
      'list_services_response',
    ]);
    expect(responses[1]?.original_request).toMatchObject({ file_by_filename: 'grpc/health/v1/health.proto' });
  });

  it('answers NOT_FOUND for a symbol, a file or an extension it does not serve', async () => {
    const responses = await reflect(sidecar.grpcAddr, [
      { file_containing_symbol: 'no.such.Service' },
      { file_by_filename: 'infercache_v1.proto' },
      { file_containing_extension: { containing_type: 'infercache.v1.Tensor', extension_number: 100 } },
      { all_extension_numbers_of_type: 'no.such.Message' },
    ]);
    expect(responses.map((r) => r.error_response?.error_code)).toEqual(Array(4).fill(grpc.status.NOT_FOUND));
    expect(responses[0]?.error_response?.error_message).toBe('symbol "no.such.Service" not found');
  });

  it('lists no extension numbers for a message nothing extends', async () => {
    const [res] = await reflect(sidecar.grpcAddr, [
      { all_extension_numbers_of_type: 'infercache.v1.Tensor' },
    ]);
    expect(res?.all_extension_numbers_response).toEqual({
      base_type_name: 'infercache.v1.Tensor',
      extension_number: [],
    });
  });

  it('refuses a name over 1024 bytes and repeats at most 64 characters of a client value', async () => {
    const [tooLong, unknown] = await reflect(sidecar.grpcAddr, [
      { file_containing_symbol: 'x'.repeat(1025) },
      { file_by_filename: '\u2028é'.repeat(200) },
    ]);
    expect(tooLong?.error_response).toEqual({
      error_code: grpc.status.INVALID_ARGUMENT,
      error_message: 'file_containing_symbol is longer than 1024 bytes',
    });
    expect(tooLong?.original_request ?? null).toBeNull();
    const message = unknown?.error_response?.error_message ?? '';
    expect(unknown?.error_response?.error_code).toBe(grpc.status.NOT_FOUND);
    expect(message).toBe(`file "${'?é'.repeat(32)}"... not found`);
    expect(Buffer.byteLength(message)).toBeLessThan(300);
  });
});
