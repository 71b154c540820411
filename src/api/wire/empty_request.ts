import { ProtoReader } from './proto_reader.js';

/**
 * Checks the wire bytes of a message with no fields (ListModelsRequest,
 * grpc.health.v1.HealthListRequest): whatever fields it holds are unknown
 * and skipped, as protobuf does, but the bytes must be a message.
 */
export function decodeEmptyRequest(bytes: Buffer): void {
  const r = new ProtoReader(bytes);
  while (!r.done) r.skip(r.tag() & 7);
}
