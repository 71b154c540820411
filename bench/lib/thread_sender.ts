import { Worker } from 'node:worker_threads';

export interface SendOutcome {
  readonly code: number;
  readonly details: string;
  /** From the call's start to its status, on the sending thread. */
  readonly ms: number;
}

// Writing a 64 MiB request keeps a client's event loop busy for a while: on
// the probe's loop it would be measured as the server's stall. So requests go
// out from a thread of their own, one connection kept open for all of them.
const SENDER = `
const { parentPort, workerData } = require('node:worker_threads');
const grpc = require('@grpc/grpc-js');
const client = new grpc.Client(workerData.addr, grpc.credentials.createInsecure(), {
  'grpc.max_send_message_length': -1,
});
const identity = (b) => b;
parentPort.on('message', ({ id, path, request, deadlineMs }) => {
  const started = performance.now();
  const bytes = Buffer.from(request.buffer, request.byteOffset, request.byteLength);
  client.makeUnaryRequest(path, identity, identity, bytes, { deadline: Date.now() + deadlineMs },
    (error) => parentPort.postMessage({
      id, code: error ? error.code : 0, details: error ? error.details : '', ms: performance.now() - started,
    }));
});
`;

/** A worker thread that sends raw request bytes to `addr` on one connection. */
export function startThreadSender(addr: string) {
  const worker = new Worker(SENDER, { eval: true, workerData: { addr } });
  const waiting = new Map<number, { resolve: (o: SendOutcome) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let failure: Error | undefined;
  worker.on('message', (m: SendOutcome & { id: number }) => {
    waiting.get(m.id)?.resolve({ code: m.code, details: m.details, ms: m.ms });
    waiting.delete(m.id);
  });
  worker.on('error', (error) => {
    failure = error;
    for (const w of waiting.values()) w.reject(error);
    waiting.clear();
  });
  return {
    /**
     * Hands `request` to the thread (moved, not copied: it is unusable here
     * afterwards) and resolves with how the call ended.
     */
    send(path: string, request: Uint8Array, deadlineMs = 60_000): Promise<SendOutcome> {
      if (failure !== undefined) return Promise.reject(failure);
      const id = nextId++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        worker.postMessage({ id, path, request, deadlineMs }, [request.buffer as ArrayBuffer]);
      });
    },
    close: () => worker.terminate(),
  };
}
