import { inject } from 'vitest';

/**
 * URL of the one redis-server that test/global_setup.ts starts for the whole
 * run. Tests sharing it must use their own key prefix (startSidecar does).
 */
export function sharedRedisUrl(): string {
  const url = inject('redisUrl');
  if (!url) throw new Error('redisUrl was not provided: is test/global_setup.ts the globalSetup?');
  return url;
}
