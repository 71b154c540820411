import { fileURLToPath } from 'node:url';
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { answer, type ReflectionRequest, type ReflectionResponse } from './answer.js';
import { DescriptorIndex } from './descriptor_index.js';
import { readDescriptorSet } from './descriptor_set.js';

const protoRoot = fileURLToPath(new URL('../../../proto', import.meta.url));

// v1alpha is what Python's grpcio-reflection and older grpcurl speak; the
// messages are the same, only the package differs.
const VERSIONS = ['v1', 'v1alpha'] as const;

/**
 * Registers grpc.reflection.v1 and v1alpha ServerReflection, answering from
 * the compiled descriptor set: the files are served as protoc wrote them, so
 * strict descriptor builders (grpcurl, Postman, the C++ and Go runtimes)
 * accept them, under their real file names.
 */
export function addReflection(server: grpc.Server): void {
  const index = new DescriptorIndex(readDescriptorSet());
  // These messages have no maps, so proto-loader's descriptors suffice for encoding them.
  const definition = protoLoader.loadSync(
    VERSIONS.map((v) => `grpc/reflection/${v}/reflection.proto`),
    { keepCase: true, oneofs: true, includeDirs: [protoRoot] },
  );
  for (const version of VERSIONS) {
    const service = definition[`grpc.reflection.${version}.ServerReflection`] as grpc.ServiceDefinition;
    server.addService(service, {
      ServerReflectionInfo: (call: grpc.ServerDuplexStream<ReflectionRequest, ReflectionResponse>) =>
        serve(call, index),
    });
  }
}

function serve(call: grpc.ServerDuplexStream<ReflectionRequest, ReflectionResponse>, index: DescriptorIndex) {
  call.on('data', (request: ReflectionRequest) => {
    // A client that sends faster than it reads must not make us buffer without bound.
    if (!call.write(answer(index, request))) {
      call.pause();
      call.once('drain', () => call.resume());
    }
  });
  call.on('end', () => call.end());
  // A cancelled or broken stream needs nothing from us; without a listener an 'error' would throw.
  call.on('error', () => {});
}
