// Architecture rules for src/ (run by `npm run lint`). The layers: config,
// tensor and errors at the bottom; cache and model beside each other and
// unaware of each other; predict, api and cli on top.

/** Everything under src/ except the listed folders/files (regex fragments). */
const srcExcept = (...allowed) => `^src/(?!(?:${allowed.join('|')})(?:/|$))`;

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Cycles make initialisation order fragile and layers meaningless.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-orphans',
      severity: 'error',
      comment:
        'A module nobody imports is dead code. Entry points are exempt: the CLI, the model zoo ' +
        'builder, and the session worker, which piscina loads by file name.',
      from: {
        orphan: true,
        pathNot: [
          '(^|/)[.][^/]+[.](?:js|cjs|mjs|ts|cts|mts|json)$',
          '[.]d[.]ts$',
          '^src/cli/main[.]ts$',
          '^src/model/zoo/build[.]ts$',
          '^src/model/session_worker[.]ts$',
        ],
      },
      to: {},
    },
    {
      name: 'cache-independent-of-model-and-above',
      severity: 'error',
      comment: 'The cache stores bytes under keys; it must not know about models, the API or the CLI.',
      from: { path: '^src/cache/' },
      to: { path: '^src/(?:model|api|predict|cli)(?:/|$)' },
    },
    {
      name: 'model-independent-of-cache-and-above',
      severity: 'error',
      comment: 'Model loading and running must not know about caching, features, the API or the CLI.',
      from: { path: '^src/model/' },
      to: { path: '^src/(?:cache|redis|features|api|predict|cli)(?:/|$)' },
    },
    {
      name: 'only-redis-imports-ioredis',
      severity: 'error',
      comment: 'One door to Redis: every connection and call goes through src/redis/.',
      from: { path: '^src/', pathNot: '^src/redis/' },
      to: { path: '(?:^|/)node_modules/(?:ioredis|cluster-key-slot)/' },
    },
    {
      name: 'redis-is-low',
      severity: 'error',
      comment: 'The Redis door knows config and ops only: not the cache, models, features or the API.',
      from: { path: '^src/redis/' },
      to: { path: srcExcept('redis', 'config', 'ops', 'errors[.]ts') },
    },
    {
      name: 'cache-above-redis-only',
      severity: 'error',
      comment: 'The cache core is generic: it must not know features, embeddings, coherence or warming.',
      from: { path: '^src/cache/' },
      to: { path: '^src/(?:features|embeddings|coherence|warming)(?:/|$)' },
    },
    {
      name: 'coherence-room',
      severity: 'error',
      comment:
        'Coherence keeps the cache in step with the fleet: it knows the cache and the Redis door, not what is cached.',
      from: { path: '^src/coherence/' },
      to: { path: '^src/(?:model|predict|features|embeddings|warming|api|cli)(?:/|$)' },
    },
    {
      name: 'warming-room',
      severity: 'error',
      comment:
        'Warming uses the services (features, predictions, embeddings) and the cache; the API uses warming, not the reverse.',
      from: { path: '^src/warming/' },
      to: { path: '^src/(?:api|cli)(?:/|$)' },
    },
    {
      name: 'features-room',
      severity: 'error',
      comment: 'Feature serving builds on the cache and the Redis door; it knows no models and no API.',
      from: { path: '^src/features/' },
      to: { path: '^src/(?:model|predict|api|cli|embeddings|warming)(?:/|$)' },
    },
    {
      name: 'config-is-a-leaf',
      severity: 'error',
      comment: 'Everything reads config; config reads nothing else of ours but the error vocabulary.',
      from: { path: '^src/config/' },
      to: { path: srcExcept('config', 'errors[.]ts') },
    },
    {
      name: 'tensor-and-errors-are-leaves',
      severity: 'error',
      comment: 'Tensors and errors are the shared vocabulary; they depend only on each other.',
      from: { path: '^src/(?:tensor/|errors[.]ts$)' },
      to: { path: srcExcept('tensor', 'errors[.]ts') },
    },
    {
      name: 'ops-only-config',
      severity: 'error',
      comment: 'Operational plumbing (logging, metrics, shutdown) may read config, nothing else of ours.',
      from: { path: '^src/ops/' },
      to: { path: srcExcept('ops', 'config') },
    },
    {
      name: 'src-not-test-or-bench',
      severity: 'error',
      comment: 'Shipped code must not depend on tests or benchmarks.',
      from: { path: '^src/' },
      to: { path: '^(?:test|bench)/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve is a typo or a missing dependency.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports create no runtime edge but still couple layers: check them too.
    tsPreCompilationDeps: true,
    // tsconfig's NodeNext resolution maps the './x.js' specifiers to './x.ts'.
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
};
