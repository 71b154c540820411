import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InferCacheError } from '../../src/errors.js';
import { parseFeatureViews } from '../../src/features/views_file.js';
import { killOnExit } from '../helpers/children.js';
import { freePort } from '../helpers/ports.js';
import { makeTempDir } from '../helpers/temp_dirs.js';

const DEFAULTS = { l1TtlMs: 300_000, notFoundTtlMs: 5000 };

/** A view that passes, with `changes` merged over it. */
function view(changes: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'users',
    entities: [{ name: 'user_id', type: 'string' }],
    features: [
      { name: 'score', type: 'float32' },
      { name: 'embedding', type: 'float32_vector', dim: 4 },
      { name: 'age', type: 'int32' },
    ],
    max_age: '1h',
    ...changes,
  };
}

const parse = (views: unknown[], file: Record<string, unknown> = {}) =>
  parseFeatureViews(JSON.stringify({ views, ...file }), 'views.yaml', DEFAULTS);

/** The message of the refusal of `views`, which must be an E_CONFIG error. */
function refusal(views: unknown[], file: Record<string, unknown> = {}): string {
  try {
    parse(views, file);
  } catch (error) {
    expect(error).toBeInstanceOf(InferCacheError);
    expect((error as InferCacheError).code).toBe('E_CONFIG');
    return (error as Error).message;
  }
  throw new Error('the views file was accepted');
}

/** The problem lines of a refusal (each after the first line). */
const problems = (message: string) =>
  message
    .split('\n')
    .slice(1)
    .map((l) => l.trim());

const features = (...list: Record<string, unknown>[]) => ({ features: list });

describe('the feature views file', () => {
  it('reads a view with its lifetimes, join keys and features in order', () => {
    const views = parse([view({ ttl: '2h', not_found_ttl: '3s' })]);
    const users = views.get('users');
    expect(users).toMatchObject({
      name: 'users',
      joinKeys: [{ name: 'user_id', type: 'string' }],
      features: [
        { name: 'score', type: 'float32', dim: 1 },
        { name: 'embedding', type: 'float32_vector', dim: 4 },
        { name: 'age', type: 'int32', dim: 1 },
      ],
      maxAgeMs: 3_600_000,
      ttlMs: 7_200_000,
      l1TtlMs: 300_000,
      notFoundTtlMs: 3000,
      origin: undefined,
    });
    expect([...(users?.index ?? [])]).toEqual([
      ['score', 0],
      ['embedding', 1],
      ['age', 2],
    ]);
  });

  it('keeps a row in Redis for twice max_age when the view sets no ttl', () => {
    expect(parse([view({ max_age: '90s' })]).get('users')?.ttlMs).toBe(180_000);
  });

  it('never keeps a row in L1 longer than in Redis', () => {
    const users = parse([view({ max_age: '1s', ttl: '2500ms' })]).get('users');
    expect(users?.l1TtlMs).toBe(2500);
  });

  it('remembers an entity found nowhere for the configured time unless the view sets its own', () => {
    expect(parse([view()]).get('users')?.notFoundTtlMs).toBe(5000);
    expect(parse([view({ not_found_ttl: 250 })]).get('users')?.notFoundTtlMs).toBe(250);
  });

  it('reads durations as milliseconds or with a unit', () => {
    const lifetimes = (max_age: unknown) => parse([view({ max_age })]).get('users')?.maxAgeMs;
    expect([
      lifetimes(1500),
      lifetimes('250ms'),
      lifetimes('1.5s'),
      lifetimes('5m'),
      lifetimes('7d'),
    ]).toEqual([1500, 250, 1500, 300_000, 604_800_000]);
  });

  it('fills in the origin defaults', () => {
    const users = parse([view({ origin: { url: 'http://features.internal:8080/rows' } })]).get('users');
    expect(users?.origin).toEqual({
      url: 'http://features.internal:8080/rows',
      timeoutMs: 500,
      concurrency: 4,
      maxBatch: 1000,
      serveStaleOnError: true,
      staleGraceMs: 3_600_000,
    });
  });

  it('serves a row stale on an origin failure for as long as Redis keeps it past max_age, unless stale_grace says otherwise', () => {
    const origin = (more: Record<string, unknown> = {}) => ({ url: 'http://x.internal/', ...more });
    const of = (changes: Record<string, unknown>) => {
      const v = parse([view(changes)]).get('users');
      return { ttlMs: v?.ttlMs, staleGraceMs: v?.origin?.staleGraceMs };
    };
    expect(of({ max_age: '1h', ttl: '3h', origin: origin() })).toEqual({
      ttlMs: 10_800_000,
      staleGraceMs: 7_200_000,
    });
    expect(of({ max_age: '1h', origin: origin({ stale_grace: '10m' }) })).toEqual({
      ttlMs: 7_200_000,
      staleGraceMs: 600_000,
    });
    // A grace longer than max_age keeps the row in Redis for it.
    expect(of({ max_age: '1h', origin: origin({ stale_grace: '1d' }) })).toEqual({
      ttlMs: 90_000_000,
      staleGraceMs: 86_400_000,
    });
  });

  it('reads the example file that ships with the sidecar', async () => {
    const { loadFeatureViews } = await import('../../src/features/views_file.js');
    const shipped = fileURLToPath(new URL('../../models/feature_views.yaml', import.meta.url));
    const views = await loadFeatureViews(shipped, DEFAULTS);
    expect(views.get('iris_flowers')?.joinKeys).toEqual([{ name: 'flower_id', type: 'int64' }]);
  });

  describe('refuses', () => {
    it.each<[string, Record<string, unknown>, RegExp]>([
      [
        'an unknown feature type',
        features({ name: 'a', type: 'float32' }, { name: 'b', type: 'bool' }, { name: 'age', type: 'int8' }),
        /^view "users": features\[2\] \("age"\)\.type: .*"float32"\|"float64"/,
      ],
      [
        'a vector without its dimension',
        features({ name: 'vec', type: 'float32_vector' }),
        /^view "users": features\[0\] \("vec"\)\.dim: a float32_vector needs its dimension \(dim\)$/,
      ],
      [
        'a dimension on a scalar',
        features({ name: 'a', type: 'float32' }, { name: 'b', type: 'int64', dim: 3 }),
        /^view "users": features\[1\] \("b"\)\.dim: only a float32_vector has a dimension$/,
      ],
      [
        'a feature declared twice',
        features({ name: 'a', type: 'float32' }, { name: 'b', type: 'bool' }, { name: 'a', type: 'int32' }),
        /^view "users": features\[2\] \("a"\)\.name: "a" is declared twice \(first at features\[0\]\)$/,
      ],
      [
        'a join key declared twice',
        {
          entities: [
            { name: 'k', type: 'string' },
            { name: 'k', type: 'int64' },
          ],
        },
        /^view "users": entities\[1\] \("k"\)\.name: "k" is declared twice \(first at entities\[0\]\)$/,
      ],
      [
        'a ttl no longer than max_age',
        { max_age: '2s', ttl: 2000 },
        /^view "users": ttl: must be longer than max_age \(2000 ms\)$/,
      ],
      ['a duration without a unit', { max_age: '30' }, /^view "users": max_age: expected a duration such as/],
      [
        'a duration with an unknown unit',
        { max_age: '3 weeks' },
        /^view "users": max_age: expected a duration/,
      ],
      ['a duration of zero', { not_found_ttl: '0s' }, /^view "users": not_found_ttl: expected a duration/],
      ['a negative duration', { max_age: -5 }, /^view "users": max_age: /],
      ['a key the format does not have', { max_age_ms: 5 }, /^view "users": Unrecognized key: "max_age_ms"$/],
      [
        'an unknown key of a feature',
        features({ name: 'a', type: 'float32', unit: 'cm' }),
        /^view "users": features\[0\] \("a"\): Unrecognized key: "unit"$/,
      ],
      [
        'an origin URL that is not a URL',
        { origin: { url: 'not a url' } },
        /^view "users": origin\.url: expected an http:\/\/ or https:\/\/ URL$/,
      ],
      [
        'an origin URL that is not HTTP',
        { origin: { url: 'ftp://features.internal/rows' } },
        /^view "users": origin\.url: expected an http:\/\/ or https:\/\/ URL$/,
      ],
      [
        'a stale_grace longer than Redis keeps a row past max_age',
        { max_age: '1h', ttl: '90m', origin: { url: 'http://x.internal/', stale_grace: '1h' } },
        /^view "users": origin\.stale_grace: at most ttl - max_age \(1800000 ms\): a row gone from Redis cannot be served stale$/,
      ],
      [
        'a stale_grace on an origin that serves nothing stale',
        { origin: { url: 'http://x.internal/', serve_stale_on_error: false, stale_grace: '5m' } },
        /^view "users": origin\.stale_grace: has no effect with serve_stale_on_error: false$/,
      ],
      [
        'an unknown key of an origin',
        { origin: { url: 'http://x.internal/', retries: 3 } },
        /^view "users": origin: Unrecognized key: "retries"$/,
      ],
      [
        'a name a row map cannot hold',
        features({ name: '__proto__', type: 'float32' }),
        /^view "users": features\[0\] \("__proto__"\)\.name: the name __proto__ is reserved$/,
      ],
      [
        'a name starting with a digit',
        { name: '1users' },
        /^view "1users": name: expected a name of letters/,
      ],
      [
        'a view without features',
        { features: [] },
        /^view "users": features: a view needs at least one feature$/,
      ],
    ])('%s, naming the view and the field', (_what, changes, expected) => {
      const message = refusal([view(changes)]);
      expect(message.split('\n')[0]).toBe('feature views file views.yaml is invalid:');
      expect(problems(message)).toHaveLength(1);
      expect(problems(message)[0]).toMatch(expected);
    });

    it('a view declared twice', () => {
      expect(problems(refusal([view(), view({ max_age: '2h' })]))).toEqual([
        'view "users": name: "users" is declared twice (first at views[0])',
      ]);
    });

    it('an unknown key at the top of the file', () => {
      expect(problems(refusal([view()], { version: 2 }))).toEqual(['file: Unrecognized key: "version"']);
    });

    it('a file that is not YAML', () => {
      expect(() => parseFeatureViews('views: [', 'views.yaml', DEFAULTS)).toThrow(
        /^feature views file views.yaml: not YAML or JSON: /,
      );
    });

    it('a whole file at once, naming every problem of every view', () => {
      const message = refusal([
        view({ name: 'a', max_age: '1h', ttl: '30m' }),
        view({ name: 'b' }),
        view({ name: 'c', ...features({ name: 'x', type: 'float16' }), origin: { url: 'ftp://c/' } }),
      ]);
      expect(problems(message)).toEqual([
        'view "a": ttl: must be longer than max_age (3600000 ms)',
        expect.stringMatching(/^view "c": features\[0\] \("x"\)\.type: /),
        'view "c": origin.url: expected an http:// or https:// URL',
      ]);
    });
  });
});

const mainJs = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** Runs `serve` with `env` until it exits (it must, within 20 s). */
async function serve(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('INFERCACHE_')));
  const child = spawn(process.execPath, [mainJs, 'serve'], {
    env: {
      ...clean,
      INFERCACHE_GRPC_ADDR: `127.0.0.1:${await freePort()}`,
      INFERCACHE_METRICS_ADDR: 'off',
      INFERCACHE_REDIS_URL: '',
      INFERCACHE_MODELS_DIR: makeTempDir('no-models-'),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killOnExit(child);
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not exit within 20 s:\n${output}`));
    }, 20_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('infercache serve with a feature views file', () => {
  it('refuses to start on a bad file, naming the view and the field, and never serves', async () => {
    const path = join(makeTempDir('views-'), 'views.yaml');
    writeFileSync(
      path,
      [
        'views:',
        '  - name: users',
        '    entities: [{ name: user_id, type: string }]',
        '    features:',
        '      - { name: score, type: float32 }',
        '      - { name: age, type: int8 }',
        '    max_age: 1h',
      ].join('\n'),
    );
    const run = await serve({ INFERCACHE_FEATURE_VIEWS: path });
    expect(run.code).not.toBe(0);
    expect(run.code).not.toBeNull();
    expect(run.output).toContain(`feature views file ${path} is invalid`);
    expect(run.output).toContain('view \\"users\\": features[1] (\\"age\\").type');
    expect(run.output).not.toMatch(/infercache serving/);
  });

  it('refuses to start when the file it is given does not exist, naming it', async () => {
    const path = join(makeTempDir('views-'), 'missing.yaml');
    const run = await serve({ INFERCACHE_FEATURE_VIEWS: path });
    expect(run.code).not.toBe(0);
    expect(run.output).toContain(`feature views file ${path}: ENOENT`);
  });
});
