import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

// Child processes (redis-server, sidecars) that are still running. A test run
// that crashes or is interrupted must not leave them behind holding ports.
const live = new Set<ChildProcess>();
let hooked = false;

function killAll(): void {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  live.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  killAll();
  // Our listener was registered with `once`; if nobody else listens, re-raise
  // so the process still dies the way the signal intended (vitest's fork pool
  // ends its workers with SIGTERM, which skips 'exit' handlers).
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installHooks(): void {
  if (hooked) return;
  hooked = true;
  // Only synchronous work is possible in 'exit'; kill() is synchronous.
  process.on('exit', killAll);
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(signal, onSignal);
}

/** Kills `child` with SIGKILL if this process exits or is signalled first. */
export function killOnExit(child: ChildProcess): void {
  installHooks();
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/** Resolves with the exit code (null after a signal) once `child` has exited. */
export function waitForExit(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/**
 * Sends `signal` and waits for the exit; SIGKILLs after `graceMs` and rejects,
 * because a child that ignores its shutdown signal is a bug worth seeing.
 */
export async function stopChild(
  child: ChildProcess,
  signal: NodeJS.Signals,
  graceMs: number,
  name: string,
): Promise<number | null> {
  const exited = waitForExit(child);
  if (child.exitCode !== null || child.signalCode !== null) return exited;
  child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), graceMs);
  });
  const result = await Promise.race([exited, timedOut]);
  clearTimeout(timer);
  if (result === 'timeout') {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`${name} (pid ${child.pid}) did not exit within ${graceMs} ms of ${signal}; killed it`);
  }
  return result;
}

const PROCESS_STATE = /^\d+ \(.*\) (\S)/s;

/** The one-letter state in /proc/PID/stat ('T' while stopped), or undefined without /proc. */
function processState(pid: number): string | undefined {
  try {
    return PROCESS_STATE.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

/**
 * SIGSTOP or SIGCONT `child`, then wait until the kernel shows it stopped or
 * running: kill() only queues the signal, and a test that sends a command
 * right after pausing must not have it answered by a server still running.
 */
export async function stopOrContinue(child: ChildProcess, signal: 'SIGSTOP' | 'SIGCONT'): Promise<void> {
  const pid = child.pid;
  if (pid === undefined || !child.kill(signal)) throw new Error(`could not send ${signal} to pid ${pid}`);
  const wantStopped = signal === 'SIGSTOP';
  for (let i = 0; i < 200; i++) {
    const state = processState(pid);
    if (state === undefined || (state === 'T') === wantStopped) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`pid ${pid} did not ${wantStopped ? 'stop' : 'continue'} within 1 s of ${signal}`);
}
