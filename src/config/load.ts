import { InferCacheError } from '../errors.js';
import { parseRedisUrl } from './redis_url.js';
import { type Config, ENV_PREFIX, flagName, SETTINGS, type SettingName } from './schema.js';

/**
 * Builds the config once, from defaults < environment < flags, and refuses a
 * bad value with a message naming the env var or flag it came from.
 */
export function loadConfig(
  flags: Partial<Record<SettingName, string>>,
  env: NodeJS.ProcessEnv = process.env,
): Config {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const setting = SETTINGS[name];
    const envName = ENV_PREFIX + setting.env;
    const fromFlag = flags[name];
    const fromEnv = env[envName];
    const [raw, source] =
      fromFlag !== undefined
        ? [fromFlag, flagName(name)]
        : fromEnv !== undefined
          ? [fromEnv, envName]
          : [undefined, ''];
    if (raw === undefined) {
      // Defaults go through the schema too, so they arrive normalised (parsed shares, say).
      out[name] = setting.schema.parse(setting.default);
      continue;
    }
    const parsed = setting.schema.safeParse(raw);
    if (parsed.success) out[name] = parsed.data;
    else
      problems.push(
        `${source}=${JSON.stringify(raw)}: ${parsed.error.issues.map((i) => i.message).join('; ')}`,
      );
  }
  if (problems.length === 0) problems.push(...crossChecks(out as Config));
  if (problems.length > 0) {
    throw new InferCacheError('E_CONFIG', `invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return out as Config;
}

const knownEnv = new Set(Object.values(SETTINGS).map((s) => ENV_PREFIX + s.env));

/**
 * INFERCACHE_* variables that name no setting: likely typos, reported as a
 * warning rather than refused, because Kubernetes injects service-link
 * variables (INFERCACHE_SERVICE_HOST, ...) when a Service shares the name.
 */
export function unknownEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return Object.keys(env)
    .filter((key) => key.startsWith(ENV_PREFIX) && !knownEnv.has(key))
    .sort();
}

/** Settings that are fine alone but not together. */
function crossChecks(config: Config): string[] {
  const problems: string[] = [];
  if (
    config.redisUrl !== '' &&
    config.redisMode === 'single' &&
    parseRedisUrl(config.redisUrl).nodes.length > 1
  ) {
    problems.push(
      `${ENV_PREFIX}REDIS_URL lists several nodes but ${ENV_PREFIX}REDIS_MODE is single: set it to cluster, or give one node`,
    );
  }
  return problems;
}
