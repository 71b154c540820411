import * as grpc from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import { inferCacheClientConstructor, loadPackageDefinition } from '../../src/api/proto.js';
import type {
  FeatureValuesReply as FeatureValues,
  GetFeaturesReply as GetFeaturesResponse,
} from '../../src/cli/client.js';

// Shapes as @grpc/proto-loader decodes them with src/api/proto.ts's options:
// snake_case names, int64 as decimal strings, enums as numbers, every field present.

/** A tensor in a request: give only the fields you use. */
export interface TensorInput {
  dtype: number;
  shape: Array<number | string>;
  raw?: Buffer | Uint8Array;
  float_data?: number[];
  double_data?: number[];
  int32_data?: number[];
  int64_data?: Array<number | string | bigint>;
  uint64_data?: Array<number | string | bigint>;
  string_data?: Array<Buffer | Uint8Array | string>;
}

export interface PredictRequest {
  model: string;
  version?: string;
  inputs?: Record<string, TensorInput>;
  cache?: { bypass?: boolean; no_store?: boolean; max_age_ms?: number };
  typed_outputs?: boolean;
  /** Predict by entity, instead of inputs. */
  entities?: EntityKeysInput;
}

export interface Tensor {
  dtype: number;
  shape: string[];
  raw: Buffer;
  float_data: number[];
  double_data: number[];
  int32_data: number[];
  int64_data: string[];
  uint64_data: string[];
  string_data: Buffer[];
}

export interface PredictResponse {
  model: string;
  version: string;
  outputs: Record<string, Tensor>;
  row_sources: number[];
  row_cached: boolean;
  /** Predict by entity: one RowStatus per entity row. */
  row_statuses: number[];
}

export interface TensorInfo {
  name: string;
  dtype: number;
  dims: string[];
}

export interface ModelVersion {
  version: string;
  state: number;
  error: string;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  row_cacheable: boolean;
  /** The join keys of a version callable by entity. */
  entity_keys: { name: string; type: string }[];
  entity_error: string;
  /** Whether its requests skip the cache now (auto-bypass). */
  auto_bypassed: boolean;
}

export interface ModelInfo {
  name: string;
  current_version: string;
  description: string;
  labels: string[];
  versions: ModelVersion[];
  /** The version the fleet chose when this sidecar cannot serve it; '' when none. */
  mismatch: string;
}

export interface ListModelsResponse {
  models: ModelInfo[];
}

export type HealthStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

export interface CallOptions {
  /** Per-call deadline; 30 s by default so a wedged server fails a test instead of hanging it. */
  deadlineMs?: number;
}

/** infercache.v1.EntityKeys: one column per join key. */
export interface EntityKeysInput {
  columns: { name: string; string_values?: string[]; int64_values?: Array<number | string | bigint> }[];
}

// infercache.v1.FeatureValues and GetFeaturesResponse as proto-loader decodes
// them (enums as numbers, int64 as strings): the CLI's own types.

export type { FeatureValues, GetFeaturesResponse };

export interface PutFeaturesRequest {
  view: string;
  entities: EntityKeysInput;
  features: (Partial<FeatureValues> & { name: string; type: number })[];
  event_time_ms: Array<number | string>;
}

export interface PutFeaturesResponse {
  written: number;
  skipped_older: number;
  applied: boolean[];
}

export interface InferCacheClient {
  predict(req: PredictRequest, opts?: CallOptions): Promise<PredictResponse>;
  getFeatures(
    req: { features: string[]; entities: EntityKeysInput },
    opts?: CallOptions,
  ): Promise<GetFeaturesResponse>;
  putFeatures(req: PutFeaturesRequest, opts?: CallOptions): Promise<PutFeaturesResponse>;
  listModels(opts?: CallOptions): Promise<ListModelsResponse>;
  /** Any InferCache method by name (Invalidate, GetEmbeddings, ...), the reply as proto-loader decodes it. */
  unary<T>(method: string, req: unknown, opts?: CallOptions): Promise<T>;
  /** grpc.health.v1 Check; rejects with the gRPC error (e.g. NOT_FOUND for an unknown service). */
  health(service?: string, opts?: CallOptions): Promise<HealthStatus>;
  close(): void;
}

const DEFAULT_DEADLINE_MS = 30_000;
// grpc.health.v1.HealthCheckResponse.ServingStatus, decoded as numbers (enums: Number).
const HEALTH_STATUS: Record<number, HealthStatus> = {
  0: 'UNKNOWN',
  1: 'SERVING',
  2: 'NOT_SERVING',
  3: 'SERVICE_UNKNOWN',
};

// Loading the protos takes tens of milliseconds; do it once per process.
let definition: PackageDefinition | undefined;

type Unary = (
  request: unknown,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, response: unknown) => void,
) => grpc.ClientUnaryCall;

function call<T>(client: grpc.Client, method: string, request: unknown, opts: CallOptions = {}): Promise<T> {
  const fn = (client as unknown as Record<string, Unary>)[method];
  if (fn === undefined) throw new Error(`no method ${method} on the gRPC client`);
  const deadline = Date.now() + (opts.deadlineMs ?? DEFAULT_DEADLINE_MS);
  return new Promise((resolve, reject) => {
    fn.call(client, request, { deadline }, (err, response) => {
      if (err) reject(err);
      else resolve(response as T);
    });
  });
}

/** A promisified InferCache + Health client for `addr` (host:port), plaintext. */
export function createClient(addr: string): InferCacheClient {
  definition ??= loadPackageDefinition();
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
  };
  // Reconnect quickly: the default backoff grows to minutes, which would make
  // "wait until the sidecar is up" and "Redis/sidecar restarted" tests slow.
  const channel = new grpc.Channel(addr, grpc.credentials.createInsecure(), {
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 1000,
  });
  const shared = { channelOverride: channel };
  const InferCache = inferCacheClientConstructor(definition);
  const service = new InferCache(addr, grpc.credentials.createInsecure(), shared);
  const health = new loaded.grpc.health.v1.Health(addr, grpc.credentials.createInsecure(), shared);

  return {
    predict: (req, opts) => call<PredictResponse>(service, 'Predict', req, opts),
    getFeatures: (req, opts) => call<GetFeaturesResponse>(service, 'GetFeatures', req, opts),
    putFeatures: (req, opts) => call<PutFeaturesResponse>(service, 'PutFeatures', req, opts),
    listModels: (opts) => call<ListModelsResponse>(service, 'ListModels', {}, opts),
    unary: <T>(method: string, req: unknown, opts?: CallOptions) => call<T>(service, method, req, opts),
    async health(name = '', opts) {
      const res = await call<{ status: number | string }>(health, 'Check', { service: name }, opts);
      return typeof res.status === 'string'
        ? (res.status as HealthStatus)
        : (HEALTH_STATUS[res.status] ?? 'UNKNOWN');
    },
    close() {
      service.close();
      health.close();
      channel.close();
    },
  };
}
