import { readFileSync, writeFileSync } from 'node:fs';

/** A field of /proc/<pid>/status in bytes (it reports kB), or undefined off Linux. */
function statusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : Number(m[1]) * 1024;
  } catch {
    return undefined;
  }
}

/**
 * Starts a fresh peak-RSS window for `pid` (Linux: writing 5 to clear_refs
 * sets VmHWM back to the current RSS); resolves with that RSS, or undefined
 * where the kernel does not allow it.
 */
export function resetPeakRss(pid: number): number | undefined {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    return undefined;
  }
  return statusBytes(pid, 'VmRSS');
}

/** The highest RSS of `pid` since the last reset (bytes). */
export function peakRss(pid: number): number | undefined {
  return statusBytes(pid, 'VmHWM');
}

export interface ThreadTimes {
  /** Time on a CPU (ms). */
  readonly cpuMs: number;
  /** Time runnable but waiting for a CPU (ms): what other processes cost it. */
  readonly waitMs: number;
}

/**
 * The scheduler's account of one thread (Linux /proc/<pid>/task/<tid>/schedstat,
 * in ns): for a process's main thread (tid = pid), its event loop. Undefined
 * where the kernel does not keep it.
 */
export function threadTimes(pid: number, tid = pid): ThreadTimes | undefined {
  try {
    const [run = Number.NaN, wait = Number.NaN] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    return Number.isFinite(run) && Number.isFinite(wait)
      ? { cpuMs: run / 1e6, waitMs: wait / 1e6 }
      : undefined;
  } catch {
    return undefined;
  }
}
