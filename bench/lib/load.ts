import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

export interface LoadOptions {
  /** Calls in flight at once: closed loop, each lane sends its next call when its last one returns. */
  concurrency: number;
  durationMs: number;
  /**
   * An unrecorded run first, until `warmupCalls` calls are done or
   * `warmupMs` has passed: V8 optimises after a number of calls, not a time,
   * and on a busy machine a few thousand calls can take seconds.
   */
  warmupMs?: number;
  warmupCalls?: number;
  call: () => Promise<unknown>;
  /** A process whose CPU time (all its threads) is sampled over the window. */
  serverPid?: number | undefined;
  /** Ends the window early when it returns true (a background stream told to stop). */
  until?: () => boolean;
}

export interface LoadRun {
  requests: number;
  errors: number;
  firstError?: string;
  seconds: number;
  rps: number;
  latenciesMs: number[];
  /** Percent of one core over the window; undefined where /proc is missing. */
  serverCpuPct?: number | undefined;
  clientCpuPct: number;
  /**
   * Busy CPU of everything else on the machine (other processes, redis), in
   * percent of one core: a number well above 0 means the phase was disturbed.
   */
  otherCpuPct?: number | undefined;
}

// Linux's USER_HZ is 100 on every mainstream build; Node has no API to read CLK_TCK.
const TICK_MS = 10;

/** CPU time (user + system, all threads) of `pid` from /proc, or undefined off Linux. */
function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "pid (comm)": comm may hold spaces, so split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return undefined;
  }
}

/** Busy time of all CPUs together, from the first line of /proc/stat. */
function machineBusyMs(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    // cpu  user nice system idle iowait irq softirq steal ...
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return (user + nice + system + irq + softirq + steal) * TICK_MS;
  } catch {
    return undefined;
  }
}

async function drive(
  o: LoadOptions,
  durationMs: number,
  latencies: number[] | undefined,
  maxCalls = Infinity,
) {
  const start = performance.now();
  const end = start + durationMs;
  let errors = 0;
  let firstError: string | undefined;
  let last = start;
  let started = 0;
  const lane = async () => {
    while (performance.now() < end && started++ < maxCalls && !(o.until?.() ?? false)) {
      const t0 = performance.now();
      try {
        await o.call();
        last = performance.now();
        latencies?.push(last - t0);
      } catch (error) {
        last = performance.now();
        errors++;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, lane));
  // Until the last call returned, not the nominal end: long calls (1024-row
  // batches) would otherwise be counted in a window shorter than they took.
  return { errors, firstError, seconds: (last - start) / 1000 };
}

/** The unrecorded part of closedLoop, also usable alone (e.g. to warm the JIT with other calls). */
export async function warmUp(o: Omit<LoadOptions, 'durationMs'>): Promise<void> {
  await drive({ ...o, durationMs: 0 }, o.warmupMs ?? 0, undefined, o.warmupCalls);
}

/** Runs `call` in a closed loop for a fixed time and measures throughput, latency and CPU. */
export async function closedLoop(o: LoadOptions): Promise<LoadRun> {
  if ((o.warmupMs ?? 0) > 0) await warmUp(o);
  return measured(o.serverPid, async (latenciesMs) => drive(o, o.durationMs, latenciesMs));
}

interface Window {
  errors: number;
  firstError?: string | undefined;
  seconds: number;
}

/** Runs one measured window: its calls' latencies, and the CPU of this process, the server and the rest. */
async function measured(
  serverPid: number | undefined,
  run: (latenciesMs: number[]) => Promise<Window>,
): Promise<LoadRun> {
  const latenciesMs: number[] = [];
  const client0 = process.cpuUsage();
  const server0 = processCpuMs(serverPid);
  const machine0 = machineBusyMs();
  const { errors, firstError, seconds } = await run(latenciesMs);
  const client = process.cpuUsage(client0);
  const server1 = processCpuMs(serverPid);
  const machine1 = machineBusyMs();
  const requests = latenciesMs.length;
  if (requests === 0) throw new Error(`no call succeeded (${errors} failed; first: ${firstError ?? 'none'})`);
  const pct = (ms: number) => (100 * ms) / (seconds * 1000);
  const clientMs = (client.user + client.system) / 1000;
  const serverMs = server0 === undefined || server1 === undefined ? undefined : server1 - server0;
  const otherMs =
    machine0 === undefined || machine1 === undefined
      ? undefined
      : machine1 - machine0 - clientMs - (serverMs ?? 0);
  return {
    requests,
    errors,
    ...(firstError === undefined ? {} : { firstError }),
    seconds,
    rps: requests / seconds,
    latenciesMs,
    serverCpuPct: serverMs === undefined ? undefined : pct(serverMs),
    clientCpuPct: pct(clientMs),
    otherCpuPct: otherMs === undefined ? undefined : Math.max(0, pct(otherMs)),
  };
}

export interface OpenLoopOptions extends Omit<LoadOptions, 'concurrency' | 'until'> {
  /** Lanes (clients), each with at most one call in flight. */
  lanes: number;
  /** Calls per second over all lanes together, sent on a fixed schedule. */
  ratePerSec: number;
}

/**
 * Sends calls on a fixed schedule (the offered load of vegeta's `-rate`), each
 * lane at ratePerSec / lanes, staggered; a call held back by a slow one before
 * it on its lane is timed from when it was due, so it counts the wait (no
 * coordinated omission). A closed loop instead measures
 * latency at saturation, where it is only concurrency over throughput.
 */
export async function openLoop(o: OpenLoopOptions): Promise<LoadRun> {
  if ((o.warmupMs ?? 0) > 0) await warmUp({ ...o, concurrency: o.lanes });
  const interval = (1000 * o.lanes) / o.ratePerSec;
  return measured(o.serverPid, async (latenciesMs) => {
    const start = performance.now();
    const end = start + o.durationMs;
    const w: Window = { errors: 0, seconds: 0 };
    let last = start;
    const lane = async (i: number) => {
      for (let due = start + (i * interval) / o.lanes; due < end; due += interval) {
        // A call due while the lane's last one was still out is timed from when it
        // was due (the server held it up); one sent by a timer is timed from when it
        // went out, so the timer's millisecond granularity is not counted.
        let from = due;
        const wait = due - performance.now();
        if (wait > 0) {
          await new Promise((resolve) => setTimeout(resolve, wait));
          from = performance.now();
        }
        try {
          await o.call();
          last = performance.now();
          latenciesMs.push(last - from);
        } catch (error) {
          last = performance.now();
          w.errors++;
          w.firstError ??= error instanceof Error ? error.message : String(error);
        }
      }
    };
    await Promise.all(Array.from({ length: o.lanes }, (_, i) => lane(i)));
    w.seconds = (last - start) / 1000;
    return w;
  });
}

/** The CPU columns of a phase row, averaged over its runs (rounds), leaving out what was not measured. */
export function cpuColumns(runs: readonly LoadRun[]): Record<string, number> {
  const out: Record<string, number> = {};
  const avg = (pick: (r: LoadRun) => number | undefined) => {
    const xs = runs.map(pick).filter((x): x is number => x !== undefined);
    return xs.length === 0 ? undefined : xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  for (const [key, pick] of [
    ['serverCpuPct', (r: LoadRun) => r.serverCpuPct],
    ['clientCpuPct', (r: LoadRun) => r.clientCpuPct],
    ['otherCpuPct', (r: LoadRun) => r.otherCpuPct],
  ] as const) {
    const v = avg(pick);
    if (v !== undefined) out[key] = v;
  }
  return out;
}
