import { ProtoReader, WIRE_LEN, WireError } from './proto_reader.js';

// Service names longer than any we report are refused, before they are decoded.
const MAX_SERVICE_NAME_BYTES = 256;

/**
 * The service name of a grpc.health.v1.HealthCheckRequest (Check, Watch),
 * from its wire bytes. Read by hand, as our own requests are, so bytes that
 * are not the message are the caller's error (INVALID_ARGUMENT), not
 * grpc-js's "Error deserializing request" INTERNAL, and a long name costs
 * nothing past its length check.
 */
export function decodeHealthCheckRequest(bytes: Buffer): string {
  const r = new ProtoReader(bytes);
  let service = '';
  while (!r.done) {
    const key = r.tag();
    const wire = key & 7;
    if (key >>> 3 !== 1) {
      r.skip(wire);
      continue;
    }
    if (wire !== WIRE_LEN) throw new WireError(`service has wire type ${wire}`);
    service = r.string('service name', MAX_SERVICE_NAME_BYTES);
  }
  return service;
}
