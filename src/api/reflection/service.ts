import { fileURLToPath } from 'node:url';
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { quote } from '../../errors.js';
import { refusal } from '../refusal.js';
import { toServiceError } from '../status.js';
import { rawRequests } from '../unary.js';
import { WireError } from '../wire/proto_reader.js';
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
    const method = service.ServerReflectionInfo as grpc.MethodDefinition<
      ReflectionRequest,
      ReflectionResponse
    >;
    // Requests arrive as bytes (rawRequests) and are decoded here: grpc-js
    // would answer bytes that are not a request with INTERNAL, and they are
    // the caller's error.
    server.addService(rawRequests(service), {
      ServerReflectionInfo: (call: grpc.ServerDuplexStream<Buffer, ReflectionResponse>) =>
        serve(call, index, method.requestDeserialize, method.path),
    });
  }
}

function serve(
  call: grpc.ServerDuplexStream<Buffer, ReflectionResponse>,
  index: DescriptorIndex,
  decode: (bytes: Buffer) => ReflectionRequest,
  path: string,
) {
  let refused = false;
  call.on('data', (bytes: Buffer) => {
    if (refused) return;
    let request: ReflectionRequest;
    try {
      request = decode(bytes);
    } catch (error) {
      // grpc-js ends a stream with the status of an 'error' event; what follows it is not read.
      refused = true;
      const message = quote(error instanceof Error ? error.message : String(error));
      call.emit('error', toServiceError(refusal(path, new WireError(message))));
      return;
    }
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
