import { ModelRegistry } from '../../src/model/model_registry.js';
import type { ReadyVersion } from '../../src/model/registry.js';
import { type LogLine, memoryLog } from './memory_log.js';

export interface RegistryHarness {
  readonly registry: ModelRegistry;
  /** What the hooks saw, in order: `warmUp 2`, `beforeSwitch 2 from 1`, `release 1`, `changed 2`. */
  readonly events: string[];
  /** The current version of `model` at each hook call, keyed like `events`. */
  readonly currentAt: Map<string, string>;
  /** The fleet's choice per model, as coherence/fleet_state.ts would hold it. */
  readonly chosen: Map<string, string>;
  /** Versions whose warm-up run rejects. */
  readonly failWarmUp: Set<string>;
  readonly lines: LogLine[];
  /** The current version of `model`, or 'none'. */
  current(model: string): string;
  /** `[version, state]` of every version of `model`, newest first. */
  states(model: string): [string, string][];
}

/**
 * A ModelRegistry on `dir` whose hooks record what they are asked to do
 * (the app wires them to the inference workers, the warmer and the health
 * service). The caller starts it and closes it.
 */
export function registryHarness(dir: string, keepLoaded = 2): RegistryHarness {
  const events: string[] = [];
  const currentAt = new Map<string, string>();
  const chosen = new Map<string, string>();
  const failWarmUp = new Set<string>();
  const { log, lines } = memoryLog();
  const record = (event: string, model: string) => {
    events.push(event);
    currentAt.set(event, harness.current(model));
  };
  const registry = new ModelRegistry(
    { dir, pollMs: 3_600_000, keepLoaded },
    {
      chosen: (model) => chosen.get(model),
      warmUp: async (v: ReadyVersion) => {
        record(`warmUp ${v.version}`, v.name);
        if (failWarmUp.has(v.version)) throw new Error('the run failed');
      },
      beforeSwitch: async (next, previous) => {
        // Warming takes time: the switch must wait for it, not merely start it.
        await new Promise((resolve) => setImmediate(resolve));
        record(`beforeSwitch ${next.version} from ${previous?.version ?? 'none'}`, next.name);
      },
      release: (v) => record(`release ${v.version}`, v.name),
      changed: (m) => record(`changed ${m.current?.version ?? 'none'}`, m.name),
    },
    log,
  );
  const harness: RegistryHarness = {
    registry,
    events,
    currentAt,
    chosen,
    failWarmUp,
    lines,
    current: (model) => registry.models().get(model)?.current?.version ?? 'none',
    states: (model) => (registry.models().get(model)?.versions ?? []).map((v) => [v.version, v.state]),
  };
  return harness;
}
