import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { callMetricsInterceptor } from '../../src/api/call_metrics.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { metricValue } from '../helpers/metrics.js';
import { rawClient, rawMethod } from '../helpers/raw_call.js';

const ECHO = rawMethod('/infercache.v1.InferCache/Predict');
const SILENT = rawMethod('/infercache.v1.InferCache/Warm');

const closers: (() => void)[] = [];
afterAll(() => {
  for (const close of closers) close();
});

/** A grpc-js server with the interceptor and metrics of its own: Predict echoes, Warm never answers. */
async function server() {
  const metrics = createMetrics();
  const s = new grpc.Server({ interceptors: [callMetricsInterceptor(metrics.api)] });
  s.addService({ Predict: ECHO, Warm: SILENT } as grpc.ServiceDefinition, {
    Predict: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => {
      if (call.request.length === 0) done({ code: grpc.status.INVALID_ARGUMENT, details: 'empty' });
      else done(null, call.request);
    },
    Warm: () => {},
  });
  const port = await new Promise<number>((resolve, reject) =>
    s.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  const client = rawClient(`127.0.0.1:${port}`);
  closers.push(() => {
    client.close();
    s.forceShutdown();
  });
  const call = async (m: grpc.MethodDefinition<Buffer, Buffer>, body: Buffer, deadlineMs = 5000) =>
    (await client.call(m.path, body, deadlineMs)).code;
  const counted = async (m: string, code: string) => {
    const text = await metrics.registry.metrics();
    return {
      calls: metricValue(text, 'infercache_requests_total', { method: m, code }) ?? 0,
      timed: metricValue(text, 'infercache_request_duration_seconds_count', { method: m, code }) ?? 0,
    };
  };
  return { call, counted };
}

describe('call metrics', () => {
  it('counts and times each call once, by method and status, on the server that answered it', async () => {
    const [a, b] = [await server(), await server()];
    for (let i = 0; i < 5; i++) expect(await a.call(ECHO, Buffer.from('x'))).toBe(grpc.status.OK);
    for (let i = 0; i < 3; i++) expect(await b.call(ECHO, Buffer.from('y'))).toBe(grpc.status.OK);
    expect(await b.call(ECHO, Buffer.alloc(0))).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await a.counted('Predict', 'OK')).toEqual({ calls: 5, timed: 5 });
    expect(await b.counted('Predict', 'OK')).toEqual({ calls: 3, timed: 3 });
    expect(await b.counted('Predict', 'INVALID_ARGUMENT')).toEqual({ calls: 1, timed: 1 });
    expect(await a.counted('Predict', 'INVALID_ARGUMENT')).toEqual({ calls: 0, timed: 0 });
  });

  it('counts a call grpc-js ends itself when its deadline passes, with no handler answering', async () => {
    const { call, counted } = await server();
    expect(await call(SILENT, Buffer.from('z'), 100)).toBe(grpc.status.DEADLINE_EXCEEDED);
    // The server's own deadline timer sends the status; give it its moment.
    for (let i = 0; i < 50 && (await counted('Warm', 'DEADLINE_EXCEEDED')).calls === 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(await counted('Warm', 'DEADLINE_EXCEEDED')).toEqual({ calls: 1, timed: 1 });
  });
});
