import { type Config, SECRET_SETTINGS, type SettingName } from './schema.js';

/** The config as it may be logged: secrets and URL passwords replaced. */
export function redactConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(config)) {
    if (SECRET_SETTINGS.has(name as SettingName)) out[name] = value === '' ? '' : '[redacted]';
    else if (typeof value === 'string' && /^rediss?:\/\//.test(value)) out[name] = redactUrl(value);
    else out[name] = value;
  }
  return out;
}

/** A Redis URL with its password, if any, replaced. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = 'redacted';
    return parsed.toString();
  } catch {
    return '[unparseable url]';
  }
}
