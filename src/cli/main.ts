#!/usr/bin/env node
import { Command, Option } from 'commander';
import { addSettingFlags, settingFlags } from './flags.js';
import { predictCommand } from './predict.js';
import { serve } from './serve.js';

const program = new Command('infercache').description('ONNX prediction cache sidecar (gRPC, L1 + Redis L2)');

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
  .option('--bypass', 'skip the cache: always run the model')
  .option('--no-store', 'read the cache but store nothing')
  .option('--max-age-ms <ms>', 'accept cached rows at most this old')
  .option('-a, --addr <host:port>', 'sidecar address', '127.0.0.1:50051')
  .option('--timeout-ms <ms>', 'deadline of the call', '30000')
  .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
  .action(async (options) => predictCommand({ ...options, noStore: options.store === false }));

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

program.parseAsync().catch((error: unknown) => {
  const e = error as { details?: string; message?: string };
  process.stderr.write(`infercache: ${e.details ?? e.message ?? String(error)}\n`);
  process.exit(1);
});
