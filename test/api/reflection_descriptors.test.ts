import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compileWithProtoc,
  describeFiles,
  PROTO_ROOT,
  protoFiles,
  reflect,
} from '../helpers/reflection_client.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';

describe('descriptors served by reflection', () => {
  let sidecar: Sidecar;
  let protoc: Map<string, Uint8Array>;
  beforeAll(async () => {
    [sidecar, protoc] = await Promise.all([startSidecar({ redisUrl: '' }), compileWithProtoc(PROTO_ROOT)]);
  });
  afterAll(stopAllSidecars);

  it('covers the service, health and reflection protos', () => {
    expect(protoFiles()).toEqual([
      'grpc/health/v1/health.proto',
      'grpc/reflection/v1/reflection.proto',
      'grpc/reflection/v1alpha/reflection.proto',
      'infercache/v1/admin.proto',
      'infercache/v1/features.proto',
      'infercache/v1/infercache.proto',
    ]);
  });

  it('serves every proto under proto/ by its path, byte for byte as protoc compiles it, with its imports', async () => {
    const files = protoFiles();
    const responses = await reflect(
      sidecar.grpcAddr,
      files.map((file_by_filename) => ({ file_by_filename })),
    );
    for (const [i, file] of files.entries()) {
      const served = responses[i]?.file_descriptor_response?.file_descriptor_proto ?? [];
      const described = describeFiles(served);
      expect(described[0]?.proto.name, file).toBe(file);
      for (const [j, d] of described.entries()) {
        expect(
          Buffer.from(served[j] ?? []).equals(Buffer.from(protoc.get(d.proto.name) ?? [])),
          d.proto.name,
        ).toBe(true);
      }
      // Every import is in the answer, so a client can build the file from it alone.
      const names = new Set(described.map((d) => d.proto.name));
      for (const d of described) for (const dep of d.proto.dependency) expect(names.has(dep), dep).toBe(true);
    }
  });
});
