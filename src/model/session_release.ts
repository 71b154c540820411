/** The channel on which the main thread tells every worker which sessions to drop. */
export const SESSIONS_CHANNEL = 'infercache-sessions';

/** The channel on which each worker says it has finished starting (its sessions preloaded). */
export const WORKER_READY_CHANNEL = 'infercache-worker-ready';

/** The key a version's session goes by in the workers: its file and content. */
export function sessionKey(path: string, digest: Buffer): string {
  return `${path}#${digest.toString('hex')}`;
}

/**
 * Tells every worker to release a session (its native memory): each does
 * once its runs on it are done. BroadcastChannel reaches all worker threads
 * of the process at once, whichever is busy.
 */
export function releaseSession(key: string): void {
  const channel = new BroadcastChannel(SESSIONS_CHANNEL);
  channel.postMessage({ release: key });
  channel.close();
}
