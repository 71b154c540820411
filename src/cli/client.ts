import * as grpc from '@grpc/grpc-js';
import { inferCacheClientConstructor, loadPackageDefinition } from '../api/proto.js';

export interface ModelInputInfo {
  name: string;
  dtype: number;
  dims: string[];
}

export interface ListModelsReply {
  models: {
    name: string;
    current_version: string;
    description: string;
    labels: string[];
    versions: {
      version: string;
      state: number;
      error: string;
      inputs: ModelInputInfo[];
      outputs: ModelInputInfo[];
      entity_keys: { name: string; type: string }[];
    }[];
  }[];
}

/** infercache.v1.FeatureValues as the client decodes it (int64 as strings, enums as numbers). */
export interface FeatureValuesReply {
  name: string;
  type: number;
  dim: number;
  float32_values: number[];
  float64_values: number[];
  int32_values: number[];
  int64_values: string[];
  bool_values: boolean[];
  bytes_values: Buffer[];
  statuses: number[];
}

export interface GetFeaturesReply {
  features: FeatureValuesReply[];
  views: { view: string; event_time_ms: string[]; sources: number[] }[];
}

export interface PutFeaturesReply {
  written: number;
  skipped_older: number;
}

/** A small promise-based client of infercache.v1.InferCache for the CLI. */
export function connect(addr: string, deadlineMs: number) {
  const Client = inferCacheClientConstructor(loadPackageDefinition());
  const client = new Client(addr, grpc.credentials.createInsecure());
  const call = <T>(method: string, request: unknown) =>
    new Promise<T>((resolve, reject) => {
      const fn = (client as unknown as Record<string, (...args: unknown[]) => void>)[method];
      if (fn === undefined) throw new Error(`no method ${method}`);
      fn.call(
        client,
        request,
        { deadline: Date.now() + deadlineMs },
        (error: grpc.ServiceError | null, reply: T) => (error ? reject(error) : resolve(reply)),
      );
    });
  return {
    listModels: () => call<ListModelsReply>('ListModels', {}),
    predict: <T>(request: unknown) => call<T>('Predict', request),
    /** Any method by name, for the commands that need one call each. */
    call,
    getFeatures: (request: unknown) => call<GetFeaturesReply>('GetFeatures', request),
    putFeatures: (request: unknown) => call<PutFeaturesReply>('PutFeatures', request),
    /**
     * A server-streaming call by name, with no deadline unless `deadlineMs`
     * is given: the stream emits each message, then 'end' or 'error'.
     */
    stream: (method: string, request: unknown, deadlineMs?: number): grpc.ClientReadableStream<unknown> => {
      const fn = (
        client as unknown as Record<string, (...args: unknown[]) => grpc.ClientReadableStream<unknown>>
      )[method];
      if (fn === undefined) throw new Error(`no method ${method}`);
      return fn.call(client, request, deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs });
    },
    /** Resolves once the channel is connected; rejects after `ms`. */
    ready: (ms: number) =>
      new Promise<void>((resolve, reject) =>
        client.waitForReady(Date.now() + ms, (error) => (error ? reject(error) : resolve())),
      ),
    close: () => client.close(),
  };
}
