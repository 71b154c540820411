import { describe, expect, it } from 'vitest';
import { loadConfig, unknownEnv } from '../../src/config/load.js';
import { redactConfig } from '../../src/config/redact.js';
import { flagName, SETTINGS } from '../../src/config/schema.js';

describe('config', () => {
  it('uses the documented defaults when nothing is set', () => {
    const config = loadConfig({}, {});
    for (const [name, setting] of Object.entries(SETTINGS)) {
      expect(config[name as keyof typeof config], name).toEqual(setting.schema.parse(setting.default));
    }
    expect(config.l1Shares).toEqual({ p: 0.5, f: 0.3, e: 0.2 });
    expect(config.grpcAddr).toBe('0.0.0.0:50051');
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
  });

  it('takes env vars over defaults and flags over env vars, coercing numbers', () => {
    const env = { INFERCACHE_L1_MAX_BYTES: '2048', INFERCACHE_GRPC_ADDR: '127.0.0.1:1' };
    const config = loadConfig({ grpcAddr: '127.0.0.1:2' }, env);
    expect(config.l1MaxBytes).toBe(2048);
    expect(config.grpcAddr).toBe('127.0.0.1:2');
  });

  it('refuses a bad value with a message naming the variable or flag it came from', () => {
    expect(() => loadConfig({}, { INFERCACHE_L1_MAX_BYTES: 'lots' })).toThrow(
      /INFERCACHE_L1_MAX_BYTES="lots"/,
    );
    expect(() => loadConfig({ grpcAddr: 'nowhere' }, {})).toThrow(
      /--grpc-addr="nowhere": expected host:port/,
    );
    expect(() => loadConfig({}, { INFERCACHE_REDIS_URL: 'http://x' })).toThrow(/INFERCACHE_REDIS_URL/);
  });

  it('refuses an L1 without a sane byte bound and a zero Redis timeout', () => {
    expect(() => loadConfig({}, { INFERCACHE_L1_MAX_BYTES: '0' })).toThrow(/L1_MAX_BYTES/);
    expect(() => loadConfig({}, { INFERCACHE_L2_TIMEOUT_MS: '0' })).toThrow(/L2_TIMEOUT_MS/);
  });

  it('reports unknown INFERCACHE_ variables, so a typo is not silently ignored', () => {
    const env = { INFERCACHE_L1_MAX_BYTE: '1', INFERCACHE_GRPC_ADDR: '127.0.0.1:1', OTHER: 'x' };
    expect(unknownEnv(env)).toEqual(['INFERCACHE_L1_MAX_BYTE']);
    expect(loadConfig({}, env).grpcAddr).toBe('127.0.0.1:1');
  });

  it('accepts an empty Redis URL as "L1 only"', () => {
    expect(loadConfig({}, { INFERCACHE_REDIS_URL: '' }).redisUrl).toBe('');
  });

  it('redacts the key secret and Redis passwords from what is logged', () => {
    const config = loadConfig(
      {},
      { INFERCACHE_KEY_SECRET: 's3cret', INFERCACHE_REDIS_URL: 'redis://u:hunter2@h:6379' },
    );
    const shown = JSON.stringify(redactConfig(config));
    expect(shown).not.toContain('s3cret');
    expect(shown).not.toContain('hunter2');
    expect(shown).toContain('redis://u:redacted@h:6379');
  });

  it('derives kebab-case flags from setting names', () => {
    expect(flagName('l1MaxBytes')).toBe('--l1-max-bytes');
    expect(flagName('grpcAddr')).toBe('--grpc-addr');
  });
});
