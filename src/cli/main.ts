#!/usr/bin/env node
import { Command, Option } from 'commander';
import { featuresGetCommand } from './features_get.js';
import { featuresLoadCommand } from './features_load.js';
import { addSettingFlags, settingFlags } from './flags.js';
import { invalidateCommand } from './invalidate.js';
import { activateCommand, modelsCommand } from './models.js';
import { predictCommand } from './predict.js';
import { serve } from './serve.js';
import { simulateCommand } from './simulate.js';
import { warmCommand } from './warm.js';

// Positional options (inherited by every command): `models` and `models
// activate` both take --addr, and without this `models` would take it wherever
// it stands, leaving activate to call the default address.
const program = new Command('infercache')
  .description('ONNX prediction cache sidecar (gRPC, L1 + Redis L2)')
  .enablePositionalOptions();

addSettingFlags(program.command('serve').description('run the sidecar until SIGTERM')).action(
  async (options: Record<string, unknown>) => serve(settingFlags(options)),
);

program
  .command('predict')
  .description('call Predict and print the outputs and where each row came from')
  .requiredOption('-m, --model <name>', 'model name')
  .option('-v, --version <version>', 'model version (default: current)')
  .option('-i, --input <name=values>', "input values, e.g. x=1,2,3;4,5,6 (';' separates rows)", collect, [])
  .option('--json <object>', 'inputs as JSON nested arrays, e.g. {"x": [[1,2,3]]}')
  .option(
    '-e, --entity <ids>',
    'predict by entity: entity ids instead of inputs, e.g. 1,2 (repeatable)',
    collect,
    [],
  )
  .option('--bypass', 'skip the cache: always run the model')
  .option('--no-store', 'read the cache but store nothing')
  .option('--max-age-ms <ms>', 'accept cached rows at most this old')
  .option('-a, --addr <host:port>', 'sidecar address', '127.0.0.1:50051')
  .option('--timeout-ms <ms>', 'deadline of the call', '30000')
  .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
  .action(async (options) => predictCommand({ ...options, noStore: options.store === false }));

const models = program
  .command('models')
  .description('list the models, their current versions and the state of each version')
  .option('-a, --addr <host:port>', 'sidecar address', '127.0.0.1:50051')
  .option('--timeout-ms <ms>', 'deadline of the call', '30000')
  .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
  .action(async (options) => modelsCommand(options));
models
  .command('activate <name> [version]')
  .description('choose the current version of a model for the whole fleet (no version: back to the newest)')
  .option('-a, --addr <host:port>', 'sidecar address', '127.0.0.1:50051')
  .option('--timeout-ms <ms>', 'deadline of the call', '30000')
  .action(async (name: string, version: string | undefined, options) =>
    activateCommand(name, version, { ...options, output: 'text' }),
  );

const invalidate = program
  .command('invalidate')
  .description('drop cached predictions or feature rows on every sidecar');
invalidate
  .command('model <name>')
  .description('every version of a model, or the one given')
  .option('-v, --version <version>', 'only this version')
  .option('-a, --addr <host:port>', 'sidecar address', '127.0.0.1:50051')
  .option('--timeout-ms <ms>', 'deadline of the call', '30000')
  .action(async (name: string, options) => invalidateCommand('model', name, [], options));
invalidate
  .command('view <name> [ids...]')
  .description('the rows of the entities given, or the whole view')
  .option('--feature-views <file>', 'the views file (default: as the sidecar: INFERCACHE_FEATURE_VIEWS)')
  .option('-a, --addr <host:port>', 'sidecar address', '127.0.0.1:50051')
  .option('--timeout-ms <ms>', 'deadline of the call', '30000')
  .action(async (name: string, ids: string[], options) => invalidateCommand('view', name, ids, options));
const features = program.command('features').description('load and read feature views');

features
  .command('load')
  .description(
    'load a CSV or JSON-lines file into a view: straight into Redis, or through a sidecar (--addr)',
  )
  .argument('<view>', 'view name, as the feature views file declares it')
  .argument('<file>', 'rows: CSV with a header row, or JSON lines (.jsonl, .ndjson)')
  .option('--redis-url <url>', 'Redis to load into [env INFERCACHE_REDIS_URL]')
  .option('--redis-mode <mode>', 'single or cluster [env INFERCACHE_REDIS_MODE]')
  .option('-a, --addr <host:port>', "load through this sidecar's PutFeatures instead of Redis")
  .addOption(new Option('--format <format>', 'file format').choices(['auto', 'csv', 'jsonl']).default('auto'))
  .option('--batch-size <rows>', 'rows per write (one pipeline, or one PutFeatures call)', '1000')
  .option('--in-flight <batches>', 'batches written at once; reading waits for them', '4')
  .option(
    '--event-time <time>',
    'event time of rows that give none: now, ms since the epoch, or ISO-8601',
    'now',
  )
  .option('--max-rejects <rows>', 'fail once more than this many rows are rejected (default: no limit)')
  .option('--timeout-ms <ms>', 'deadline of each write, and of connecting', '10000')
  .action(async (view: string, file: string, options) => featuresLoadCommand(view, file, options));

features
  .command('get')
  .description('call GetFeatures and print one row per entity: values, status, age and source')
  .argument('<view>', 'view name')
  .argument('<id...>', "entity ids; a composite key's values comma-separated, in join key order")
  .option('-f, --features <names>', 'features to read, comma-separated (default: all of the view)')
  .option('-a, --addr <host:port>', 'sidecar address', '127.0.0.1:50051')
  .option('--timeout-ms <ms>', 'deadline of the call', '30000')
  .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
  .action(async (view: string, ids: string[], options) => featuresGetCommand(view, ids, options));

program
  .command('warm')
  .description("load entities' feature rows, predictions and embeddings into a sidecar's cache")
  .argument('<view>', 'view name')
  .argument('[id...]', "entity ids; a composite key's values comma-separated, in join key order")
  .option('--top <n>', "instead of ids: the fleet's N most popular entities of the view")
  .option('-a, --addr <host:port>', 'sidecar address', '127.0.0.1:50051')
  .option('--timeout-ms <ms>', 'deadline of the call (0: none; Ctrl-C cancels it)', '0')
  .action(async (view: string, ids: string[], options) => warmCommand(view, ids, options));

program
  .command('simulate')
  .description('replay access traces through the L1 policies at given L1 sizes and print the hit ratios')
  .option(
    '-t, --trace <spec>',
    'zipf:S, scan:S (Zipf with scans), shift:S (Zipf whose hot keys change), loop, a trace the sidecar recorded (INFERCACHE_TRACE_FILE), or a file of `key[,bytes]` lines (repeatable; default zipf:1.0)',
    collect,
    [],
  )
  .option(
    '-p, --policy <list>',
    'policies, comma-separated: lru, tinylfu, opt (Belady, knows the future)',
    'lru,tinylfu,opt',
  )
  .requiredOption('-c, --capacity-bytes <list>', 'L1 sizes in bytes, comma-separated')
  .option('--keys <n>', 'distinct keys of a synthetic trace', '100000')
  .option('--accesses <n>', 'accesses of a synthetic trace', '1000000')
  .option(
    '--entry-bytes <n>',
    'L1 cost of each key of a synthetic trace (and of a file line without bytes, and of a recorded key whose kind has no size at all)',
    '512',
  )
  .option('--seed <n>', 'seed of a synthetic trace', '1')
  .addOption(
    new Option(
      '--kind <kind>',
      "only one kind's lookups of a trace the sidecar recorded: p predictions, f feature rows, e embeddings (each has its own part of L1)",
    ).choices(['p', 'f', 'e']),
  )
  .option('--svg <file>', 'also write a chart of hit ratio against L1 size per policy to this SVG file')
  .addOption(
    new Option('-o, --output <format>', 'output format')
      .choices(['text', 'json', 'markdown'])
      .default('text'),
  )
  .action((options) => simulateCommand(options));

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

program.parseAsync().catch((error: unknown) => {
  const e = error as { details?: string; message?: string };
  process.stderr.write(`infercache: ${e.details ?? e.message ?? String(error)}\n`);
  process.exit(1);
});
