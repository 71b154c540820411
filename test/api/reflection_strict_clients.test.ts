import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inferCacheService, loadPackageDefinition } from '../../src/api/proto.js';
import { readDescriptorSet } from '../../src/api/reflection/descriptor_set.js';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';
import { bufCurl, pythonClient, type Run } from '../helpers/strict_clients.js';

const SERVICES = [
  'grpc.health.v1.Health',
  'grpc.reflection.v1.ServerReflection',
  'grpc.reflection.v1alpha.ServerReflection',
  'infercache.v1.InferCache',
];

const PREDICT = {
  model: 'iris',
  inputs: { features: { dtype: 'DATA_TYPE_FLOAT32', shape: [1, 4], floatData: [5.1, 3.5, 1.4, 0.2] } },
  typedOutputs: true,
};

// The sidecar's default views (models/feature_views.yaml) and embedding model.
const GET_FEATURES = {
  features: ['iris_flowers:sepal_length'],
  entities: { columns: [{ name: 'flower_id', int64Values: ['1'] }] },
};
const GET_EMBEDDINGS = {
  model: 'flower_embedding',
  inputs: PREDICT.inputs,
};

/** The service's methods as a describe prints them (by name), from the proto as protobufjs reads it. */
function rpcLines(): string[] {
  type Method = {
    requestType: { type: { name: string } };
    responseType: { type: { name: string } };
    requestStream: boolean;
    responseStream: boolean;
  };
  const service = inferCacheService(loadPackageDefinition()) as unknown as Record<string, Method>;
  return Object.keys(service)
    .sort()
    .map((name) => {
      const m = service[name] as Method;
      const input = `${m.requestStream ? 'stream ' : ''}.infercache.v1.${m.requestType.type.name}`;
      const output = `${m.responseStream ? 'stream ' : ''}.infercache.v1.${m.responseType.type.name}`;
      return `  rpc ${name} ( ${input} ) returns ( ${output} );`;
    });
}

/** stdout of a run that must have succeeded; a failure shows the client's own words. */
function ok(run: Run): string {
  expect(run.stderr, `exit ${run.code}`).toBe('');
  expect(run.code).toBe(0);
  return run.stdout;
}

/** Every file reflection serves (all of proto/, as compiled), with the symbols it declares at its top level. */
function servedFiles(): { name: string; symbols: string[] }[] {
  return readDescriptorSet().map(({ proto }) => ({
    name: proto.name,
    symbols: [...proto.service, ...proto.messageType, ...proto.enumType].map((d) =>
      proto.package === '' ? d.name : `${proto.package}.${d.name}`,
    ),
  }));
}

function expectIrisPrediction(reply: unknown): void {
  expect(reply).toMatchObject({
    model: 'iris',
    version: '1',
    outputs: {
      label: { dtype: 'DATA_TYPE_INT64', shape: ['1'], int64Data: ['0'] },
      probabilities: { dtype: 'DATA_TYPE_FLOAT32', shape: ['1', '3'] },
    },
    rowCached: true,
  });
}

describe('clients on other protobuf runtimes, through server reflection only', () => {
  let sidecar: Sidecar;
  beforeAll(async () => {
    sidecar = await startSidecar({ redisUrl: '' });
  });
  afterAll(stopAllSidecars);

  describe.each(['v1', 'v1alpha'] as const)("Python's C++ protobuf runtime (reflection %s)", (version) => {
    const python = (...args: string[]) => pythonClient(sidecar.grpcAddr, args, version);

    it('lists the services', async () => {
      expect(ok(await python('list'))).toBe(`${SERVICES.join('\n')}\n`);
    });

    it('describes the service and the messages with map fields', async () => {
      expect(ok(await python('describe', 'infercache.v1.InferCache'))).toBe(
        ['infercache.v1.InferCache is a service:', 'service InferCache {', ...rpcLines(), '}', ''].join('\n'),
      );
      expect(ok(await python('describe', 'infercache.v1.PredictResponse'))).toContain(
        '  map<string, .infercache.v1.Tensor> outputs = 3;\n',
      );
      expect(ok(await python('describe', 'grpc.health.v1.HealthListResponse'))).toBe(
        [
          'grpc.health.v1.HealthListResponse is a message:',
          'message HealthListResponse {',
          '  map<string, .grpc.health.v1.HealthCheckResponse> statuses = 1;',
          '}',
          '',
        ].join('\n'),
      );
    });

    it('builds every file reflection serves, by name, and describes everything each declares', async () => {
      const files = servedFiles();
      // Every file under proto/, whatever is added later.
      expect(files.length).toBeGreaterThanOrEqual(6);
      const out = ok(await python('files', ...files.map((f) => f.name)));
      const sections = out.split(/^== /m).slice(1);
      expect(sections.map((section) => section.slice(0, section.indexOf('\n')))).toEqual(
        files.map((f) => f.name),
      );
      files.forEach((file, i) => {
        const described = [...(sections[i] as string).matchAll(/^(\S+) is an? (?:service|message|enum):$/gm)];
        expect(described.map((m) => m[1]).sort(), file.name).toEqual([...file.symbols].sort());
      });
    });

    it('calls Predict, ListModels, GetFeatures, GetEmbeddings and Health/Check', async () => {
      const [predict, models, features, embeddings, health] = await Promise.all([
        python('call', 'infercache.v1.InferCache/Predict', JSON.stringify(PREDICT)),
        python('call', 'infercache.v1.InferCache/ListModels', '{}'),
        python('call', 'infercache.v1.InferCache/GetFeatures', JSON.stringify(GET_FEATURES)),
        python('call', 'infercache.v1.InferCache/GetEmbeddings', JSON.stringify(GET_EMBEDDINGS)),
        python('call', 'grpc.health.v1.Health/Check', '{}'),
      ]);
      expectIrisPrediction(JSON.parse(ok(predict)));
      const names = (JSON.parse(ok(models)) as { models: { name: string }[] }).models.map((m) => m.name);
      expect(names).toEqual(['flower_embedding', 'heavy', 'iris']);
      // No Redis and no origin: the row is found nowhere, which the answer says in its enums.
      expect(JSON.parse(ok(features))).toMatchObject({
        features: [{ name: 'iris_flowers:sepal_length', statuses: ['FEATURE_STATUS_NOT_FOUND'] }],
        views: [{ view: 'iris_flowers', sources: ['FEATURE_SOURCE_NONE'] }],
      });
      const vectors = JSON.parse(ok(embeddings)) as { model: string; dim: number; vectors: number[] };
      expect(vectors).toMatchObject({ model: 'flower_embedding', version: '1', dim: 32 });
      expect(vectors.vectors).toHaveLength(32);
      expect(JSON.parse(ok(health))).toEqual({ status: 'SERVING' });
    });
  });

  describe.each(['grpc-v1', 'grpc-v1alpha'] as const)(
    "buf curl, Go's protodesc (reflection %s)",
    (protocol) => {
      const base = () => `http://${sidecar.grpcAddr}`;
      const curl = (...args: string[]) => bufCurl(args, protocol);

      it('lists the services and their methods', async () => {
        expect(ok(await curl('--list-services', base()))).toBe(`${SERVICES.join('\n')}\n`);
        expect(ok(await curl('--list-methods', base()))).toContain(
          'infercache.v1.InferCache/ListModels\ninfercache.v1.InferCache/Predict\n',
        );
      });

      it('calls Predict, ListModels and Health/Check', async () => {
        const [predict, models, health] = await Promise.all([
          curl('-d', JSON.stringify(PREDICT), `${base()}/infercache.v1.InferCache/Predict`),
          curl(`${base()}/infercache.v1.InferCache/ListModels`),
          curl(`${base()}/grpc.health.v1.Health/Check`),
        ]);
        expectIrisPrediction(JSON.parse(ok(predict)));
        const names = (JSON.parse(ok(models)) as { models: { name: string }[] }).models.map((m) => m.name);
        expect(names).toEqual(['flower_embedding', 'heavy', 'iris']);
        expect(JSON.parse(ok(health))).toEqual({ status: 'SERVING' });
      });
    },
  );
});
