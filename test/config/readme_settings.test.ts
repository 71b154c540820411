import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ENV_PREFIX, flagName, SETTINGS } from '../../src/config/schema.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('the README configuration table', () => {
  it('lists every setting with its env var and flag, and nothing else', () => {
    const rows = [...readme.matchAll(/^\| (\w+) \| `(INFERCACHE_\w+)` \| `(--[\w-]+)` \|/gm)].map((m) => [
      m[1],
      m[2],
      m[3],
    ]);
    const expected = Object.entries(SETTINGS).map(([name, s]) => [
      name,
      ENV_PREFIX + s.env,
      flagName(name as keyof typeof SETTINGS),
    ]);
    expect(rows).toEqual(expected);
  });
});

describe('the README L1 policy table', () => {
  it('chose the default policy of each kind that the schema has', () => {
    const chosen = /Chosen default .*: `INFERCACHE_L1_POLICY=([^`]+)`/.exec(readme)?.[1];
    expect(chosen).toBe(SETTINGS.l1Policy.default);
  });
});
