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
    }[];
  }[];
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
    close: () => client.close(),
  };
}
