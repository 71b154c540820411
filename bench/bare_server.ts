import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { rawMethod } from '../test/helpers/raw_call.js';

/**
 * The floor for the L1-hit path: the leanest grpc-js server that answers
 * Predict with the same bytes. It decodes nothing and encodes nothing
 * (identity serializers); every call is answered with the sidecar's own
 * L1-hit answer, passed pre-encoded in the file BENCH_BARE_RESPONSE_FILE
 * (a 1,024-row answer is too long for an environment variable). It shares
 * none of the sidecar's settings beyond the message size limits, and, as
 * the leanest server would, turns off channelz's per-call bookkeeping (the
 * sidecar serves no channelz either).
 * Prints {"port": n} on stdout once listening.
 */
const file = process.env.BENCH_BARE_RESPONSE_FILE;
if (!file) throw new Error('BENCH_BARE_RESPONSE_FILE is not set');
const response = readFileSync(file);

// Same message limits as the sidecar's server (src/api/server.ts).
const maxBytes = 64 * 1024 * 1024;
const server = new grpc.Server({
  'grpc.max_receive_message_length': maxBytes,
  'grpc.max_send_message_length': maxBytes,
  'grpc.enable_channelz': 0,
});
server.addService(
  { Predict: rawMethod('/infercache.v1.InferCache/Predict') },
  { Predict: (_call: unknown, callback: grpc.sendUnaryData<Buffer>) => callback(null, response) },
);
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});
process.once('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
