import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeFrame } from '../../src/cache/value_frame.js';
import { featureRowKind } from '../../src/features/feature_row.js';
import { loadFeatureViews } from '../../src/features/views_file.js';
import { writeModel } from '../../src/model/zoo/build.js';
import { buildIrisModel } from '../../src/model/zoo/iris.js';
import type { PutFeaturesRequest } from '../helpers/client.js';
import { FT, featureOf, stringIds, viewOf } from '../helpers/features.js';
import { metricValue } from '../helpers/metrics.js';
import { eventually, irisRequest } from '../helpers/requests.js';
import { type Sidecar, startSidecar } from '../helpers/sidecar.js';
import { makeTempDir } from '../helpers/temp_dirs.js';

/**
 * What the coherence suites share: a fleet of sidecar processes on one
 * Redis, reading one feature view (`users`: a string key, one int32
 * feature) and predicting with two versions of iris.
 */

export const USER = 'user_id';

const VIEWS = `views:
  - name: users
    entities: [{ name: ${USER}, type: string }]
    features:
      - { name: level, type: int32 }
    max_age: 1h
`;

export interface FleetFiles {
  readonly views: string;
  readonly models: string;
  /** Writes a file beside the views file and returns its path. */
  file(name: string, text: string): string;
}

/** The views file and a models directory holding iris versions 1 and 2. */
export async function fleetFiles(): Promise<FleetFiles> {
  const dir = makeTempDir('coherence-');
  const views = join(dir, 'views.yaml');
  writeFileSync(views, VIEWS);
  const models = makeTempDir('coherence-models-');
  await writeModel(models, 'iris', 1, buildIrisModel());
  await writeModel(models, 'iris', 2, buildIrisModel());
  return {
    views,
    models,
    file(name, text) {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    },
  };
}

/** One sample of a sidecar's metrics; 0 while the series does not exist yet. */
export async function metric(s: Sidecar, name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricValue(await s.metrics(), name, labels) ?? 0;
}

/** Waits until `s` reports `value` for one sample (at least `value`, with `atLeast`). */
export function metricReaches(
  s: Sidecar,
  name: string,
  labels: Record<string, string>,
  value: number,
  atLeast = false,
) {
  return eventually(
    `${name}${JSON.stringify(labels)} ${atLeast ? '>=' : '='} ${value}`,
    async () => {
      const got = await metric(s, name, labels);
      return got === value || (atLeast && got > value) ? true : undefined;
    },
    20_000,
  );
}

/**
 * What the missed-message tests share: the smallest bus log the settings
 * allow (a few hundred changes trim it past a sidecar that was away), and
 * the Redis user of the sidecar they cut off, so that a command can be
 * taken from it alone (ACL) while the others keep theirs.
 */
export const SMALLEST_LOG_LENGTH = '100';
export const CUT_OFF_USER = { name: 'sidecar-b', password: 'b-secret' } as const;
/** ACL SETUSER arguments creating CUT_OFF_USER with every right. */
export const CUT_OFF_USER_ACL = [
  'ACL',
  'SETUSER',
  CUT_OFF_USER.name,
  'on',
  `>${CUT_OFF_USER.password}`,
  '~*',
  '&*',
  '+@all',
];

/** Fleet changes this sidecar has applied, over pub/sub or from the log. */
export async function changesApplied(s: Sidecar, type: 'keys' | 'generation'): Promise<number> {
  const body = await s.metrics();
  const via = (v: string) => metricValue(body, 'infercache_coherence_changes_total', { type, via: v }) ?? 0;
  return via('pubsub') + via('log');
}

/**
 * Starts a sidecar of the fleet and waits until it can take part: L2
 * connected, and its coherence link subscribed and caught up with the log.
 */
export async function startMember(
  redisUrl: string,
  keyPrefix: string,
  files: FleetFiles,
  env: Record<string, string> = {},
): Promise<Sidecar> {
  const s = await startSidecar({
    redisUrl,
    keyPrefix,
    modelsDir: files.models,
    env: { INFERCACHE_FEATURE_VIEWS: files.views, INFERCACHE_L2_TTL_JITTER: '0', ...env },
  });
  await s.waitForLog((l) => l.msg === 'L2 connected', 20_000);
  await eventually(
    'the coherence link to catch up',
    async () =>
      (await metric(s, 'infercache_coherence_catch_ups_total', { result: 'ok' })) >= 1 ? true : undefined,
    20_000,
  );
  return s;
}

/** Writes `levels` for `ids` in `users` through PutFeatures. */
export function putLevels(s: Sidecar, ids: string[], levels: number[], eventTime = Date.now()) {
  const req: PutFeaturesRequest = {
    view: 'users',
    entities: stringIds(USER, ids),
    features: [{ name: 'level', type: FT.INT32, int32_values: levels }],
    event_time_ms: ids.map(() => eventTime),
  };
  return s.client.putFeatures(req);
}

/**
 * The bytes a writer that bypasses the sidecars (a batch job) stores under
 * `key` for a `users` row: the value frame with the row's event time, over
 * the row's payload, checked against the key.
 */
export async function usersRowFrame(
  files: FleetFiles,
  key: string,
  level: number,
  eventTime: number,
): Promise<Buffer> {
  const views = await loadFeatureViews(files.views, { l1TtlMs: 60_000, notFoundTtlMs: 1000 });
  const users = views.get('users');
  if (users === undefined) throw new Error('no view users');
  const payload = featureRowKind(users, 0).encode({ eventTime, values: [level], writtenAt: Date.now() });
  return encodeFrame(key, 'f', eventTime, payload);
}

/** The `users` rows of `ids` as one sidecar answers them: level, status and source per row. */
export async function readLevels(s: Sidecar, ids: string[]) {
  const res = await s.client.getFeatures({ features: ['users'], entities: stringIds(USER, ids) });
  const level = featureOf(res, 'users:level');
  return { levels: level.int32_values, statuses: level.statuses, sources: viewOf(res, 'users').sources };
}

/** Where each row of an iris prediction came from (SRC numbers). */
export async function predictSources(s: Sidecar, rows: number[][], version = ''): Promise<number[]> {
  return (await s.client.predict(irisRequest(rows, { version }))).row_sources;
}

/** Invalidate through one sidecar. */
export function invalidate(s: Sidecar, request: unknown) {
  return s.client.unary<{ scope: string; generation: string; keys_deleted: number }>('Invalidate', request);
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const mainJs = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** Runs `infercache ARGS` as its own process, with none of the developer's INFERCACHE_ settings. */
export function cli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith('INFERCACHE_')) base[k] = v;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [mainJs, ...args],
      { cwd: repoRoot, env: { ...base, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (error as { code?: unknown }).code : 0;
        resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
      },
    );
  });
}
