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
  // Not WHATWG URL: a cluster's seed list (host:port,host:port) is not a URL it parses.
  const m = /^(rediss?:\/\/)([^@/]*)@(.*)$/s.exec(url);
  if (m === null) return url;
  const [, scheme, auth, rest] = m as unknown as [string, string, string, string];
  const colon = auth.indexOf(':');
  const user = colon === -1 ? '' : auth.slice(0, colon);
  return `${scheme}${user}:redacted@${rest}`;
}
