import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a feature origin received: the path's last part and the parsed body. */
export interface OriginRequest {
  readonly route: string;
  readonly view: string;
  readonly entities: Record<string, unknown>[];
}

export type OriginHandler = (request: OriginRequest, res: ServerResponse) => void | Promise<void>;

export interface OriginServer {
  /** The URL a view's origin points at; requests to it are answered by `route(name, ...)`. */
  url(route: string): string;
  /** Answers requests to `route` with `handler` from now on. */
  route(route: string, handler: OriginHandler): void;
  /** Every request received so far, in arrival order. */
  readonly requests: OriginRequest[];
  /** Requests to `route` being answered right now, and the most there ever were at once. */
  inFlight(route: string): { now: number; max: number };
  /** Entities (by their first join key value) asked of `route` so far, in order. */
  asked(route: string): unknown[];
  close(): Promise<void>;
}

/** Answers with status 200 and `body` as JSON. */
export function json(res: ServerResponse, body: unknown, status = 200): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A feature origin on 127.0.0.1 (node:http on a free port) speaking the
 * protocol of src/features/origin.ts, whose answers each test decides per
 * route. It counts requests in flight, so tests can check a concurrency bound.
 */
export async function startOriginServer(): Promise<OriginServer> {
  const handlers = new Map<string, OriginHandler>();
  const requests: OriginRequest[] = [];
  const flights = new Map<string, { now: number; max: number }>();
  const server = createServer(async (req, res) => {
    const route = (req.url ?? '/').split('/').pop() ?? '';
    const flight = flights.get(route) ?? { now: 0, max: 0 };
    flights.set(route, flight);
    flight.now++;
    flight.max = Math.max(flight.max, flight.now);
    res.once('close', () => flight.now--);
    try {
      const body = JSON.parse(await readBody(req)) as { view: string; entities: Record<string, unknown>[] };
      const request = { route, view: body.view, entities: body.entities };
      requests.push(request);
      const handler = handlers.get(route);
      if (handler === undefined) json(res, { error: `no handler for ${route}` }, 404);
      else await handler(request, res);
    } catch (error) {
      if (!res.headersSent) json(res, { error: String(error) }, 500);
      else res.destroy();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (route) => `http://127.0.0.1:${port}/${route}`,
    route: (route, handler) => handlers.set(route, handler),
    requests,
    inFlight: (route) => ({ ...(flights.get(route) ?? { now: 0, max: 0 }) }),
    asked: (route) =>
      requests.filter((r) => r.route === route).flatMap((r) => r.entities.map((e) => Object.values(e)[0])),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
