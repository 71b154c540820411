import { type App, startApp } from '../app.js';
import { loadConfig, unknownEnv } from '../config/load.js';
import type { SettingName } from '../config/schema.js';
import { isInferCacheError } from '../errors.js';
import { createLogger } from '../ops/logger.js';

/** `infercache serve`: run until SIGTERM/SIGINT, then drain and exit 0. */
export async function serve(flags: Partial<Record<SettingName, string>>): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(flags);
  } catch (error) {
    process.stderr.write(`infercache: ${isInferCacheError(error) ? error.message : String(error)}\n`);
    process.exit(2);
  }
  const log = createLogger(config.logLevel);
  const unknown = unknownEnv();
  if (unknown.length > 0)
    log.warn({ variables: unknown }, 'ignoring INFERCACHE_ variables that name no setting');

  // Handlers go in before startup, so a SIGTERM while models load still
  // ends the process cleanly instead of by the default signal action.
  let app: App | undefined;
  let stopRequested: string | undefined;
  const stop = (signal: string) => {
    if (app === undefined) {
      stopRequested = signal;
      return;
    }
    app.shutdown(signal).then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  try {
    app = await startApp(config, log);
  } catch (error) {
    log.fatal({ err: error }, 'failed to start');
    process.exit(1);
  }
  if (stopRequested !== undefined) stop(stopRequested);
}
