import { InferCacheError } from '../errors.js';
import { isFailure, type RedisDoor } from '../redis/door.js';
import { BUMP_GENERATION } from './generation_script.js';

/**
 * What the fleet agrees on, as Redis holds it: the generation of each
 * invalidation scope (a whole model, one model version, a view, an
 * embedding model: bumping one makes its old keys unreachable, without
 * scanning the keyspace) and the version chosen as current for a model
 * (none: the newest ready one). Read at start and after every catch-up;
 * changes arrive over the bus.
 */
export class FleetState {
  readonly #door: RedisDoor;
  readonly #generationsKey: string;
  readonly #versionsKey: string;
  readonly #generations = new Map<string, number>();
  readonly #versions = new Map<string, string>();

  constructor(door: RedisDoor, prefix: string) {
    this.#door = door;
    this.#generationsKey = `${prefix}:generations`;
    this.#versionsKey = `${prefix}:versions`;
  }

  /** Reads both hashes; false when Redis did not answer (what is known stays). */
  async load(): Promise<{ generations: Map<string, number>; versions: Map<string, string> } | undefined> {
    const [gens, versions] = await this.#door.run('fleet_state', 'read', [
      { key: this.#generationsKey, name: 'HGETALL', args: [this.#generationsKey] },
      { key: this.#versionsKey, name: 'HGETALL', args: [this.#versionsKey] },
    ]);
    if (isFailure(gens) || isFailure(versions) || !Array.isArray(gens) || !Array.isArray(versions))
      return undefined;
    const g = new Map<string, number>();
    for (let i = 0; i + 1 < gens.length; i += 2) g.set(String(gens[i]), Number(String(gens[i + 1])));
    const v = new Map<string, string>();
    for (let i = 0; i + 1 < versions.length; i += 2) v.set(String(versions[i]), String(versions[i + 1]));
    return { generations: g, versions: v };
  }

  generation(scope: string): number {
    return this.#generations.get(scope) ?? 0;
  }

  /** Records a generation; never moves one back (a late message changes nothing). True when it moved. */
  setGeneration(scope: string, generation: number): boolean {
    if (generation <= this.generation(scope)) return false;
    this.#generations.set(scope, generation);
    return true;
  }

  /** Moves a scope's generation on in Redis; resolves with the new one. */
  async bump(scope: string): Promise<number> {
    const [reply] = await this.#door.evalMany('generation_bump', BUMP_GENERATION, [
      { key: this.#generationsKey, args: [scope] },
    ]);
    if (isFailure(reply) || reply === undefined) {
      const reason = isFailure(reply) ? reply.reason : 'no reply';
      throw new InferCacheError('E_UNAVAILABLE', `could not invalidate ${scope} (Redis: ${reason})`);
    }
    // Recorded when the change is applied (announced), which also drops L1.
    return Number(reply);
  }

  /** The version chosen for `model`, if any. */
  version(model: string): string | undefined {
    return this.#versions.get(model);
  }

  setVersion(model: string, version: string): void {
    if (version === '') this.#versions.delete(model);
    else this.#versions.set(model, version);
  }

  /** Stores the choice in Redis ('' clears it: back to the newest). */
  async chooseVersion(model: string, version: string): Promise<void> {
    const call =
      version === ''
        ? { key: this.#versionsKey, name: 'HDEL', args: [this.#versionsKey, model] }
        : { key: this.#versionsKey, name: 'HSET', args: [this.#versionsKey, model, version] };
    const [reply] = await this.#door.run('version_choose', 'write', [call]);
    if (isFailure(reply)) {
      throw new InferCacheError(
        'E_UNAVAILABLE',
        `could not store the version of ${model} (Redis: ${reply.reason})`,
      );
    }
    this.setVersion(model, version);
  }

  /** Replaces what is known by what Redis holds (after a catch-up). */
  adopt(state: { generations: Map<string, number>; versions: Map<string, string> }): {
    generations: string[];
    versions: string[];
  } {
    const movedGenerations = [...state.generations]
      .filter(([s, g]) => this.setGeneration(s, g))
      .map(([s]) => s);
    const changedVersions: string[] = [];
    for (const model of new Set([...this.#versions.keys(), ...state.versions.keys()])) {
      const next = state.versions.get(model) ?? '';
      if ((this.#versions.get(model) ?? '') !== next) {
        this.setVersion(model, next);
        changedVersions.push(model);
      }
    }
    return { generations: movedGenerations, versions: changedVersions };
  }
}
