import { connect, createServer, type Socket } from 'node:net';

/**
 * A loopback TCP proxy in front of one port, to take a client's Redis away
 * from it while every other client stays connected to the same server.
 *
 * - forwarding (the start state): bytes flow both ways, with backpressure.
 * - stall(): nothing flows either way, but every socket stays open and new
 *   connections are accepted: the client sees a server that never answers,
 *   as with a hung Redis or a dropped network path. Bytes sent meanwhile wait
 *   in the proxy and the kernel buffers, none lost; restore() delivers them
 *   in order. A close from either side during a stall is held back too (it
 *   queues behind the data), but a reset still passes at once.
 * - cut(): every connection is reset (the client sees ECONNRESET), and so is
 *   every new one, accepted and reset at once: the listening port stays ours,
 *   so restore() cannot lose it to another process.
 * - restore(): back to forwarding, stalled bytes first.
 */
export interface TcpProxy {
  readonly port: number;
  /** redis://127.0.0.1:PORT of the proxy, for a client meant to go through it. */
  readonly url: string;
  /** Client connections open through the proxy now. */
  readonly connections: number;
  stall(): void;
  cut(): void;
  restore(): void;
  /** Resets every connection and stops listening. */
  close(): Promise<void>;
}

type Mode = 'forwarding' | 'stalled' | 'cut';

interface Link {
  readonly client: Socket;
  readonly upstream: Socket;
}

function forward(link: Link): void {
  // pipe() applies backpressure (pauses the source while the destination's
  // buffer is full) and ends the destination when the source ends.
  link.client.pipe(link.upstream);
  link.upstream.pipe(link.client);
}

function hold(link: Link): void {
  // Unpiped and paused, a socket reads no further than its highWaterMark;
  // the rest waits in the kernel, whose full buffers then stop the sender.
  link.client.unpipe(link.upstream);
  link.upstream.unpipe(link.client);
  link.client.pause();
  link.upstream.pause();
}

function reset(link: Link): void {
  link.client.resetAndDestroy();
  link.upstream.destroy();
}

export function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let mode: Mode = 'forwarding';
  const links = new Set<Link>();

  const server = createServer((client) => {
    if (mode === 'cut') {
      client.on('error', () => {});
      client.resetAndDestroy();
      return;
    }
    const upstream = connect({ host: '127.0.0.1', port: targetPort });
    const link = { client, upstream };
    links.add(link);
    // A failure on one side resets the other: a refused or reset upstream
    // reaches the client as ECONNRESET, as if it had talked to Redis directly.
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.resetAndDestroy());
    client.on('close', () => {
      links.delete(link);
      upstream.destroy();
    });
    upstream.on('close', () => client.destroy());
    if (mode === 'forwarding') forward(link);
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        reject(new Error(`unexpected proxy address: ${String(address)}`));
        return;
      }
      resolve({
        port: address.port,
        url: `redis://127.0.0.1:${address.port}`,
        get connections() {
          return links.size;
        },
        stall() {
          if (mode === 'forwarding') for (const link of links) hold(link);
          mode = 'stalled';
        },
        cut() {
          mode = 'cut';
          for (const link of links) reset(link);
          links.clear();
        },
        restore() {
          if (mode === 'stalled') for (const link of links) forward(link);
          mode = 'forwarding';
        },
        close() {
          mode = 'cut';
          for (const link of links) reset(link);
          links.clear();
          return new Promise((done) => server.close(() => done()));
        },
      });
    });
  });
}
