import type { Command } from 'commander';
import { ENV_PREFIX, flagName, SETTINGS, type SettingName } from '../config/schema.js';
import { InferCacheError } from '../errors.js';

/** Adds one flag per setting (values are validated by config/load.ts, not here). */
export function addSettingFlags(command: Command): Command {
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const s = SETTINGS[name];
    command.option(
      `${flagName(name)} <value>`,
      `${s.doc} [env ${ENV_PREFIX}${s.env}, default ${JSON.stringify(s.default)}]`,
    );
  }
  return command;
}

/** commander's camelCase option values, keyed by setting name. */
export function settingFlags(options: Record<string, unknown>): Partial<Record<SettingName, string>> {
  const out: Partial<Record<SettingName, string>> = {};
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const v = options[name];
    if (typeof v === 'string') out[name] = v;
  }
  return out;
}

/** A whole-number flag (`--top 10`, `--timeout-ms 0`), refused with a message naming it unless it is an integer >= `min`. */
export function countFlag(flag: string, text: string, min = 1): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min) {
    throw new InferCacheError('E_CONFIG', `${flag} ${JSON.stringify(text)}: expected an integer >= ${min}`);
  }
  return n;
}
