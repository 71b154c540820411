/** One Redis node address. */
export interface RedisNodeAddress {
  readonly host: string;
  readonly port: number;
}

/** INFERCACHE_REDIS_URL, parsed: one node, or the seed nodes of a cluster. */
export interface RedisTarget {
  readonly tls: boolean;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly db: number;
  readonly nodes: readonly RedisNodeAddress[];
}

const NODE = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/;

/**
 * `redis[s]://[user:password@]host[:port][,host[:port]...][/db]`. Several
 * hosts are the seed nodes of a Redis Cluster; the first host alone serves a
 * single node. Throws a TypeError saying what is wrong.
 */
export function parseRedisUrl(url: string): RedisTarget {
  const match = /^(rediss?):\/\/(?:([^@/]*)@)?([^/?#]+)(?:\/(\d*))?$/.exec(url);
  if (match === null) throw new TypeError('expected redis://[user:password@]host:port[,host:port...][/db]');
  const [, scheme, auth, hosts, db] = match;
  const nodes = (hosts as string).split(',').map((part) => {
    const m = NODE.exec(part.trim());
    if (m === null) throw new TypeError(`"${part.slice(0, 64)}" is not host[:port]`);
    const port = m[2] === undefined ? 6379 : Number(m[2]);
    if (port < 1 || port > 65535) throw new TypeError(`port ${port} out of range`);
    return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
  });
  let username: string | undefined;
  let password: string | undefined;
  if (auth !== undefined && auth !== '') {
    const colon = auth.indexOf(':');
    username = colon === -1 ? undefined : decodeURIComponent(auth.slice(0, colon)) || undefined;
    password = decodeURIComponent(colon === -1 ? auth : auth.slice(colon + 1)) || undefined;
  }
  return { tls: scheme === 'rediss', username, password, db: db ? Number(db) : 0, nodes };
}
