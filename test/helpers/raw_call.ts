import { Worker } from 'node:worker_threads';
import * as grpc from '@grpc/grpc-js';

const identity = (b: Buffer) => b;

/**
 * A unary method whose requests and answers are bytes as they are (identity
 * serializers): for servers that answer pre-encoded bytes (the benchmarks'
 * bare servers) or tests of what grpc-js does around any handler.
 */
export function rawMethod(path: string): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
}

/** What a unary call ended with, and how long it took. */
export interface RawOutcome {
  readonly code: grpc.status;
  readonly details: string;
  readonly response: Buffer | undefined;
  readonly ms: number;
}

/**
 * A client that sends request bytes as they are (no serializer), so tests
 * can send what no generated client would: malformed messages, hand-encoded
 * worst cases, names far past every limit. One client is one connection;
 * calls on it share it, as calls of a real client do.
 */
export function rawClient(addr: string) {
  const client = new grpc.Client(addr, grpc.credentials.createInsecure());
  return {
    call(path: string, request: Buffer, deadlineMs = 10_000): Promise<RawOutcome> {
      const started = performance.now();
      return new Promise((resolve) => {
        client.makeUnaryRequest(
          path,
          identity,
          identity,
          request,
          { deadline: Date.now() + deadlineMs },
          (error, response) =>
            resolve({
              code: error?.code ?? grpc.status.OK,
              details: error?.details ?? '',
              response: response ?? undefined,
              ms: performance.now() - started,
            }),
        );
      });
    },
    /** A server-streaming call: every message it sent, and how it ended. */
    stream(path: string, request: Buffer, deadlineMs = 10_000): Promise<RawStreamOutcome> {
      const started = performance.now();
      return new Promise((resolve) => {
        const messages: Buffer[] = [];
        const call = client.makeServerStreamRequest(path, identity, identity, request, {
          deadline: Date.now() + deadlineMs,
        });
        call.on('data', (m: Buffer) => messages.push(m));
        // The status is also emitted as 'error' when it is not OK; 'status' alone tells the end.
        call.on('error', () => {});
        call.on('status', (s: grpc.StatusObject) =>
          resolve({ code: s.code, details: s.details, messages, ms: performance.now() - started }),
        );
      });
    },
    close: () => client.close(),
  };
}

/** What a server-streaming call sent and ended with. */
export interface RawStreamOutcome {
  readonly code: grpc.status;
  readonly details: string;
  readonly messages: Buffer[];
  readonly ms: number;
}

/** Protobuf wire encoding, by hand, for messages no client library would produce. */
export const wire = {
  varint(n: number): Buffer {
    const out: number[] = [];
    let v = n;
    while (v > 0x7f) {
      out.push((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(v);
    return Buffer.from(out);
  },
  /** A length-delimited field. */
  bytes(field: number, payload: Buffer | string): Buffer {
    const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    return Buffer.concat([wire.varint((field << 3) | 2), wire.varint(body.length), body]);
  },
  /** A varint field. */
  number(field: number, value: number): Buffer {
    return Buffer.concat([wire.varint(field << 3), wire.varint(value)]);
  },
  /** A PredictRequest for `model` with one input `name` holding the encoded Tensor `tensor`. */
  predict(model: string, name: string, tensor: Buffer): Buffer {
    const entry = Buffer.concat([wire.bytes(1, name), wire.bytes(2, tensor)]);
    return Buffer.concat([wire.bytes(1, model), wire.bytes(3, entry)]);
  },
};

export const PREDICT = '/infercache.v1.InferCache/Predict';
export const HEALTH_CHECK = '/grpc.health.v1.Health/Check';

// The sender runs on a thread of its own: writing a 16 MiB request keeps a
// client's event loop busy, and a probe on the same loop would measure the
// client, not the server.
const SENDER = `
const { parentPort, workerData } = require('node:worker_threads');
const grpc = require('@grpc/grpc-js');
const client = new grpc.Client(workerData.addr, grpc.credentials.createInsecure());
const identity = (b) => b;
const started = performance.now();
client.makeUnaryRequest(workerData.path, identity, identity, Buffer.from(workerData.request),
  { deadline: Date.now() + workerData.deadlineMs }, (error) => {
    parentPort.postMessage({ code: error ? error.code : 0, details: error ? error.details : '', ms: performance.now() - started });
    client.close();
  });
`;

/** Sends one request from a worker thread; resolves with how it ended. */
export function callFromThread(
  addr: string,
  path: string,
  request: Buffer,
  deadlineMs = 10_000,
): Promise<Omit<RawOutcome, 'response'>> {
  return new Promise((resolve, reject) => {
    const bytes = new Uint8Array(request);
    const worker = new Worker(SENDER, {
      eval: true,
      workerData: { addr, path, request: bytes, deadlineMs },
      transferList: [bytes.buffer],
    });
    worker.once('message', (outcome: Omit<RawOutcome, 'response'>) => {
      resolve(outcome);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}
