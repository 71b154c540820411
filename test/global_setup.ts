import type { TestProject } from 'vitest/node';
import { startRedis } from './helpers/redis_server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** redis://127.0.0.1:PORT of the run-wide redis-server; read it with sharedRedisUrl(). */
    redisUrl: string;
  }
}

// One redis-server for the whole run: starting one per test file would cost a
// process and a second each on a 2-core box. Test files isolate their keys by prefix.
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const redis = await startRedis();
  project.provide('redisUrl', redis.url);
  return () => redis.stop();
}
