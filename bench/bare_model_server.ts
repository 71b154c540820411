import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as ort from 'onnxruntime-node';
import protobuf from 'protobufjs';
import { rawMethod } from '../test/helpers/raw_call.js';

/**
 * The floor for the miss path: a grpc-js server that runs the heavy model
 * with onnxruntime-node and nothing else (no cache, no checks, no worker
 * thread). Bytes in and out are left to grpc-js as is (identity
 * serializers); protobufjs decodes a request and encodes an answer, the
 * least a server must do to find the rows and return outputs. Calls that
 * arrive while a run is in progress are run together as one batch of at
 * most BENCH_BARE_MAX_ROWS rows, as a hand-written batching server would.
 * BENCH_BARE_THREADS intra-op threads. Prints {"port": n} once listening.
 */
const protoRoot = fileURLToPath(new URL('../proto', import.meta.url));
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => join(protoRoot, target);
root.loadSync('infercache/v1/infercache.proto', { keepCase: true });
const Request = root.lookupType('infercache.v1.PredictRequest');
const Response = root.lookupType('infercache.v1.PredictResponse');

const modelPath = process.env.BENCH_BARE_MODEL ?? '';
const maxRows = Number(process.env.BENCH_BARE_MAX_ROWS ?? '256');
const session = await ort.InferenceSession.create(modelPath, {
  intraOpNumThreads: Number(process.env.BENCH_BARE_THREADS ?? '1'),
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
});
const input = session.inputNames[0] as string;
const output = session.outputNames[0] as string;

interface Call {
  readonly raw: Buffer;
  readonly rows: number;
  readonly cols: number;
  readonly done: grpc.sendUnaryData<Buffer>;
}
const pending: Call[] = [];
let running = false;

function predict(call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>): void {
  const req = Request.decode(call.request) as unknown as {
    inputs: Record<string, { shape: (number | { toNumber(): number })[]; raw: Buffer }>;
  };
  const x = req.inputs[input];
  if (x === undefined) {
    done({ code: grpc.status.INVALID_ARGUMENT, details: `no input ${input}` });
    return;
  }
  const [rows, cols] = x.shape.map(Number) as [number, number];
  pending.push({ raw: x.raw, rows, cols, done });
  if (!running) setImmediate(runPending);
}

// setImmediate: the calls that arrived during a run are read (poll phase)
// before the next batch is taken.
async function runPending(): Promise<void> {
  if (running || pending.length === 0) return;
  running = true;
  const batch: Call[] = [];
  let rows = 0;
  while (pending.length > 0 && (batch.length === 0 || rows + (pending[0] as Call).rows <= maxRows)) {
    const call = pending.shift() as Call;
    batch.push(call);
    rows += call.rows;
  }
  const cols = (batch[0] as Call).cols;
  const bytes = Buffer.concat(batch.map((c) => c.raw));
  try {
    const data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    const result = await session.run({ [input]: new ort.Tensor('float32', data, [rows, cols]) });
    const y = result[output] as ort.Tensor;
    const outCols = Number(y.dims[1]);
    const out = y.data as Float32Array;
    let at = 0;
    for (const call of batch) {
      const part = out.subarray(at * outCols, (at + call.rows) * outCols);
      at += call.rows;
      const answer = Response.encode({
        model: 'heavy',
        version: '1',
        outputs: {
          [output]: {
            dtype: 1,
            shape: [call.rows, outCols],
            raw: Buffer.from(part.buffer, part.byteOffset, part.byteLength),
          },
        },
        row_sources: new Array(call.rows).fill(3),
        row_cached: true,
      }).finish();
      call.done(null, Buffer.from(answer.buffer, answer.byteOffset, answer.byteLength));
    }
  } catch (error) {
    for (const call of batch) call.done({ code: grpc.status.INTERNAL, details: String(error) });
  }
  running = false;
  if (pending.length > 0) setImmediate(runPending);
}

const service: grpc.ServiceDefinition = { Predict: rawMethod('/infercache.v1.InferCache/Predict') };
const maxBytes = 16 * 1024 * 1024;
const server = new grpc.Server({
  'grpc.max_receive_message_length': maxBytes,
  'grpc.max_send_message_length': maxBytes,
  // As the sidecar: no channelz bookkeeping per call.
  'grpc.enable_channelz': 0,
});
server.addService(service, { Predict: predict });
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});
process.once('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
