import * as grpc from '@grpc/grpc-js';
import { inferCacheService, loadPackageDefinition } from '../src/api/proto.js';

/**
 * The floor for the L1-hit path: the same proto service and loader options as
 * the sidecar, but Predict answers a precomputed response (the sidecar's own
 * L1-hit answer, passed in BENCH_BARE_RESPONSE) without doing any work.
 * Prints {"port": n} on stdout once listening.
 */
const revive = (_key: string, value: unknown): unknown => {
  const v = value as { type?: unknown; data?: unknown } | null;
  return v !== null && typeof v === 'object' && v.type === 'Buffer' && Array.isArray(v.data)
    ? Buffer.from(v.data as number[])
    : value;
};
const response: unknown = JSON.parse(process.env.BENCH_BARE_RESPONSE ?? 'null', revive);
if (response === null) throw new Error('BENCH_BARE_RESPONSE is not set');

// Same message limits as the sidecar's server (src/api/server.ts).
const maxBytes = 64 * 1024 * 1024;
const server = new grpc.Server({
  'grpc.max_receive_message_length': maxBytes,
  'grpc.max_send_message_length': maxBytes,
});
server.addService(inferCacheService(loadPackageDefinition()), {
  Predict: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => callback(null, response),
  ListModels: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => callback(null, { models: [] }),
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});
process.once('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
