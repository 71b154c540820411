import { createServer } from 'node:net';

/**
 * A TCP port that was free a moment ago on 127.0.0.1. The kernel picks it
 * (port 0), so parallel test workers don't collide the way fixed ports would;
 * there is still a small race until the caller binds it.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`unexpected listen address: ${String(address)}`));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}
