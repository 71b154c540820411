import { createServer } from 'node:net';

// Ports this process has handed out: the kernel may offer a just-closed port
// again at once, so two calls in a row (a gRPC and a metrics port) could
// otherwise get the same one.
const handedOut = new Set<number>();

/**
 * A TCP port that was free a moment ago on 127.0.0.1 and that this process
 * has not handed out before. The kernel picks it (port 0), so parallel test
 * workers don't collide the way fixed ports would; there is still a small
 * race with other processes until the caller binds it.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await kernelPort();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

function kernelPort(): Promise<number> {
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
