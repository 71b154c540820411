import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../ops/logger.js';
import {
  loadVersion,
  type Model,
  type ModelVersion,
  type ReadyVersion,
  type VersionCheck,
} from './registry.js';

export interface RegistryOptions {
  readonly dir: string;
  /** How often the directory is scanned for new, changed and removed versions (ms). */
  readonly pollMs: number;
  /** Ready versions kept loaded per model (the current one among them). */
  readonly keepLoaded: number;
  /** A check of each version that loads against what lies outside the model room (feature views). */
  readonly check?: VersionCheck;
}

export interface RegistryHooks {
  /** The version the fleet chose for `model`, if any (coherence/fleet_state.ts). */
  chosen(model: string): string | undefined;
  /** One run on the workers before a version may serve; rejects when it fails. */
  warmUp(version: ReadyVersion): Promise<void>;
  /** Runs before `next` becomes current (warms its popular rows); its failure does not stop the switch. */
  beforeSwitch(next: ReadyVersion, previous: ReadyVersion | undefined): Promise<void>;
  /** Frees a version's sessions in the workers. */
  release(version: ReadyVersion): void;
  /** After anything about `model` changed (health, metrics). */
  changed(model: Model): void;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const versionOrder = new Intl.Collator('en', { numeric: true });
const STAGING = '.tmp';

interface Seen {
  /** The file's size and mtime (and model.json's): a change loads the version again. */
  readonly stamp: string;
  version: ModelVersion;
}

/**
 * The models directory, followed without a restart: a new version directory
 * is loaded, its signature read, a warm-up run made on the workers, and
 * only then may it become current (atomically: a new Model object replaces
 * the old one; a request holds the version it started with). A version that
 * fails keeps the one serving before it, and says why. The current version
 * is the one the fleet chose (activate), or else the newest that is ready;
 * a chosen version this sidecar cannot serve is reported as a mismatch.
 * Beyond `keepLoaded` ready versions per model, the oldest are unloaded and
 * their sessions released.
 */
export class ModelRegistry {
  readonly #options: RegistryOptions;
  readonly #hooks: RegistryHooks;
  readonly #log: Logger;
  readonly #seen = new Map<string, Map<string, Seen>>();
  #models = new Map<string, Model>();
  #timer: NodeJS.Timeout | undefined;
  #scan: Promise<void> = Promise.resolve();

  constructor(options: RegistryOptions, hooks: RegistryHooks, log: Logger) {
    this.#options = options;
    this.#hooks = hooks;
    this.#log = log.child({ component: 'models' });
  }

  models(): ReadonlyMap<string, Model> {
    return this.#models;
  }

  /** The first scan (no warm-up: the workers load these sessions as they start), then polling. */
  async start(): Promise<void> {
    await this.#queue(() => this.#rescan(false));
    this.#timer = setInterval(() => void this.#queue(() => this.#rescan(true)), this.#options.pollMs);
    this.#timer.unref();
  }

  /** Scans now (the tests and `activate` use it); scans never overlap. */
  rescan(): Promise<void> {
    return this.#queue(() => this.#rescan(true));
  }

  /** The fleet's choice for `model` changed: loads the chosen version if needed, then settles. */
  refresh(model: string): Promise<void> {
    return this.#queue(() => this.#settle(model));
  }

  close(): void {
    clearInterval(this.#timer);
  }

  #queue(step: () => Promise<void>): Promise<void> {
    this.#scan = this.#scan.then(step, step).catch((error: unknown) => {
      this.#log.error({ err: error }, 'model scan failed');
    });
    return this.#scan;
  }

  async #rescan(warm: boolean): Promise<void> {
    const found = await listVersions(this.#options.dir);
    const touched = new Set<string>();
    for (const [name, versions] of found) {
      const seen = this.#seen.get(name) ?? new Map<string, Seen>();
      this.#seen.set(name, seen);
      for (const [version, stamp] of versions) {
        const before = seen.get(version);
        if (before?.stamp === stamp) continue;
        touched.add(name);
        const loaded = await this.#load(name, version, warm);
        seen.set(version, { stamp, version: loaded });
        if (before?.version.state === 'ready') this.#hooks.release(before.version);
      }
      for (const [version, s] of seen) {
        if (versions.has(version)) continue;
        seen.delete(version);
        touched.add(name);
        if (s.version.state === 'ready') this.#hooks.release(s.version);
        this.#log.info({ model: name, version }, 'model version removed');
      }
    }
    for (const name of this.#seen.keys()) if (!found.has(name)) touched.add(name);
    for (const name of touched) await this.#settle(name);
  }

  async #load(name: string, version: string, warm: boolean): Promise<ModelVersion> {
    const dir = join(this.#options.dir, name, version);
    const loaded = await loadVersion(
      name,
      version,
      join(dir, 'model.onnx'),
      join(dir, 'model.json'),
      this.#options.check,
    );
    if (loaded.state !== 'ready') {
      this.#log.error({ model: name, version, err: loaded.error }, 'model version failed to load');
      return loaded;
    }
    if (warm) {
      try {
        await this.#hooks.warmUp(loaded);
      } catch (error) {
        const message = `warm-up run failed: ${error instanceof Error ? error.message : String(error)}`;
        this.#log.error({ model: name, version, err: message }, 'model version failed to load');
        this.#hooks.release(loaded);
        return { state: 'failed', name, version, path: loaded.path, error: message };
      }
    }
    this.#log.info({ model: name, version }, 'model version loaded');
    return loaded;
  }

  /** Chooses the current version, unloads the surplus, and swaps in a new Model. */
  async #settle(name: string): Promise<void> {
    const seen = this.#seen.get(name);
    if (seen === undefined || seen.size === 0) {
      this.#seen.delete(name);
      this.#replace(name, undefined);
      return;
    }
    const chosen = this.#hooks.chosen(name);
    const pick = chosen === undefined ? undefined : seen.get(chosen);
    // A chosen version that was unloaded is loaded again before it serves.
    if (pick !== undefined && pick.version.state === 'unloaded') {
      pick.version = await this.#load(name, pick.version.version, true);
    }
    const newestFirst = [...seen.values()].sort((a, b) =>
      versionOrder.compare(b.version.version, a.version.version),
    );
    const ready = newestFirst.map((s) => s.version).filter((v): v is ReadyVersion => v.state === 'ready');
    const target = pick?.version.state === 'ready' ? pick.version : ready[0];
    const previous = this.#models.get(name)?.current;
    if (target !== undefined && target !== previous) await this.#hooks.beforeSwitch(target, previous);
    // Keep the current version and the newest others, up to keepLoaded.
    const keep = new Set<ModelVersion>(target === undefined ? [] : [target]);
    for (const v of ready) if (keep.size < this.#options.keepLoaded) keep.add(v);
    for (const s of newestFirst) {
      if (s.version.state !== 'ready' || keep.has(s.version)) continue;
      this.#hooks.release(s.version);
      s.version = { state: 'unloaded', name, version: s.version.version, path: s.version.path };
    }
    const mismatch = chosen !== undefined && target?.version !== chosen ? chosen : undefined;
    if (mismatch !== undefined) {
      this.#log.warn(
        { model: name, chosen: mismatch, serving: target?.version ?? null },
        'the fleet chose a version this sidecar cannot serve: it keeps its own',
      );
    }
    if (target !== previous && target !== undefined) {
      this.#log.info(
        { model: name, version: target.version, previous: previous?.version ?? null },
        'model version switched',
      );
    }
    this.#replace(name, {
      name,
      versions: newestFirst.map((s) => s.version),
      current: target,
      ...(mismatch === undefined ? {} : { mismatch }),
    });
  }

  #replace(name: string, model: Model | undefined): void {
    const next = new Map(this.#models);
    if (model === undefined) next.delete(name);
    else next.set(name, model);
    this.#models = next;
    if (model !== undefined) this.#hooks.changed(model);
  }
}

/** model name -> version -> a stamp of its files, for every `<dir>/<name>/<version>/model.onnx`. */
async function listVersions(dir: string): Promise<Map<string, Map<string, string>>> {
  const out = new Map<string, Map<string, string>>();
  for (const name of await subdirs(dir)) {
    if (!NAME.test(name)) continue;
    const versions = new Map<string, string>();
    for (const version of await subdirs(join(dir, name))) {
      // `3.tmp` is a version being copied in (renamed to `3` when complete):
      // a valid name, but loading it could serve a half-written file.
      if (!NAME.test(version) || version.endsWith(STAGING)) continue;
      const onnx = await stat(join(dir, name, version, 'model.onnx')).catch(() => undefined);
      if (onnx === undefined) continue;
      const meta = await stat(join(dir, name, version, 'model.json')).catch(() => undefined);
      versions.set(version, `${onnx.size}:${onnx.mtimeMs}:${meta?.size ?? '-'}:${meta?.mtimeMs ?? '-'}`);
    }
    if (versions.size > 0) out.set(name, versions);
  }
  return out;
}

async function subdirs(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
