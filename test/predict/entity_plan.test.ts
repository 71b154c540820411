import { describe, expect, it } from 'vitest';
import type { EntityInputSpec } from '../../src/model/metadata.js';
import { compileEntityPlan, EntityPlans } from '../../src/predict/entity_plan.js';
import { DType } from '../../src/tensor/dtypes.js';
import { IRIS_OUTPUTS, spec, version, view, viewsOf } from '../helpers/entity_fixtures.js';

const flowers = view('flowers', [
  'sepal_length float32',
  'sepal_width float32',
  'petal_length float64',
  'petal_width float32',
  'species string',
  'petals float32_vector 2',
  'count int64',
  'small int32',
  'seen bool',
  'blob bytes',
]);
const VIEWS = viewsOf(flowers, view('petals', ['petal_length float32', 'petal_width float32']));
const FOUR = ['flowers:sepal_length', 'flowers:sepal_width', 'flowers:petal_length', 'flowers:petal_width'];

const compile = (features: EntityInputSpec, inputs = version(undefined).signature.inputs) =>
  compileEntityPlan(version({ features }, [...inputs]), VIEWS);
const failure = (features: EntityInputSpec, inputs?: Parameters<typeof compile>[1]) => {
  try {
    compile(features, inputs);
  } catch (error) {
    return (error as Error).message;
  }
  return 'compiled';
};

describe('entity plans: model.json entityInputs checked when the version loads', () => {
  it('maps an input to its features across views, each feature asked for once', () => {
    const features = [
      'flowers:sepal_length',
      'flowers:sepal_width',
      'petals:petal_length',
      'petals:petal_width',
    ];
    const plan = compile({ features, defaults: [null, 3, 4.35, null] });
    expect(plan?.joinKeys).toEqual([{ name: 'flower_id', type: 'int64' }]);
    expect(plan?.refs).toEqual(features);
    const [input] = plan?.inputs ?? [];
    expect(input?.rowDims).toEqual([4]);
    expect(input?.parts.map((p) => [p.view.name, p.index, p.fallback])).toEqual([
      ['flowers', 0, undefined],
      ['flowers', 1, 3],
      ['petals', 0, Math.fround(4.35)],
      ['petals', 1, undefined],
    ]);
    expect(plan?.outputs.map((o) => o.rowDims)).toEqual([[3], []]);
    // The same feature twice in one input is fetched once.
    const twice = compile({
      features: ['flowers:sepal_length', ...FOUR.slice(1, 3), 'flowers:sepal_length'],
    });
    expect(twice?.refs).toHaveLength(3);
  });

  it('has no plan for a model.json without entityInputs', () => {
    expect(compileEntityPlan(version(undefined), VIEWS)).toBeUndefined();
    expect(new EntityPlans(() => VIEWS).of(version(undefined))).toBeUndefined();
  });

  it('counts a float32_vector as its dim values of the row', () => {
    const plan = compile({ features: ['flowers:sepal_length', 'flowers:petals', 'flowers:count'] });
    expect(plan?.inputs[0]?.parts.map((p) => p.spec.dim)).toEqual([1, 2, 1]);
    expect(failure({ features: ['flowers:sepal_length', 'flowers:petals'] })).toMatch(
      /input "features" takes 4 values per row \(shape \[N, 4\]\); its features give 3/,
    );
  });

  it.each([
    [
      'an unknown view',
      ['nope:sepal_length', ...FOUR.slice(1)],
      /unknown view "nope" in "nope:sepal_length" \(views: flowers, petals\)/,
    ],
    [
      'an unknown feature',
      [...FOUR.slice(0, 3), 'flowers:stem_width'],
      /view flowers has no feature "stem_width"/,
    ],
    ['too few features for the row', FOUR.slice(0, 3), /takes 4 values per row .*its features give 3/],
    ['too many features for the row', [...FOUR, 'flowers:count'], /its features give 5/],
    [
      'a string feature for a float32 input',
      [...FOUR.slice(0, 3), 'flowers:species'],
      /input "features" is float32; "flowers:species" is string, which does not convert to it/,
    ],
    ['a bytes feature', [...FOUR.slice(0, 3), 'flowers:blob'], /"flowers:blob" is bytes/],
  ])('refuses %s, naming the input and the feature', (_what, features, message) => {
    expect(failure({ features })).toMatch(/^model\.json entityInputs: /);
    expect(failure({ features })).toMatch(message);
  });

  it.each([
    [
      'a string for a float32 feature',
      ['x', null, null, null],
      /flowers:sepal_length has default "x"; type float32 needs a number/,
    ],
    [
      'a number for a bool feature',
      [null, null, null, 1],
      /flowers:seen has default 1; type bool needs true or false/,
    ],
    [
      'a fraction for an int64 feature',
      [null, 2.5, null, null],
      /flowers:count has default 2.5; type int64 needs an integer/,
    ],
    [
      'a vector of the wrong length',
      [null, null, [1, 2, 3], null],
      /flowers:petals has default \[1,2,3\]; type float32_vector needs an array of 2 numbers/,
    ],
  ] as [string, (number | string | number[] | null)[], RegExp][])(
    'refuses a default of the wrong type: %s',
    (_what, defaults, message) => {
      const features = ['flowers:sepal_length', 'flowers:count', 'flowers:petals', 'flowers:seen'];
      const inputs = [spec('features', DType.FLOAT32, ['N', 5])];
      expect(failure({ features, defaults }, inputs)).toMatch(message);
      expect(failure({ features, defaults: [1.5, '9007199254740993', [1, 2], true] }, inputs)).toBe(
        'compiled',
      );
    },
  );

  it('converts only what keeps its meaning: integers widen, nothing becomes an integer or a string', () => {
    const one = (dtype: DType, feature: string) =>
      failure({ features: [`flowers:${feature}`] }, [spec('features', dtype, ['N', 1])]);
    expect(one(DType.INT64, 'count')).toBe('compiled');
    expect(one(DType.INT64, 'small')).toBe('compiled');
    expect(one(DType.INT64, 'seen')).toBe('compiled');
    expect(one(DType.INT32, 'count')).toMatch(/"flowers:count" is int64, which does not convert/);
    expect(one(DType.INT64, 'sepal_length')).toMatch(/is float32, which does not convert/);
    expect(one(DType.FLOAT64, 'count')).toBe('compiled');
    expect(one(DType.BOOL, 'seen')).toBe('compiled');
    expect(one(DType.STRING, 'species')).toBe('compiled');
    expect(one(DType.STRING, 'count')).toMatch(/is int64, which does not convert/);
    expect(one(DType.UINT8, 'count')).toMatch(/input "features" is uint8, which features cannot fill/);
  });

  it('refuses a mapping that leaves an input out, or names one the model does not have', () => {
    const inputs = [spec('a', DType.FLOAT32, ['N', 1]), spec('b', DType.FLOAT32, ['N', 1])];
    const mv = version({ a: { features: ['flowers:sepal_length'] } }, inputs);
    expect(() => compileEntityPlan(mv, VIEWS)).toThrow(
      /input "b" is not mapped; every input needs its features/,
    );
    const extra = version({ features: { features: FOUR }, other: { features: FOUR } });
    expect(() => compileEntityPlan(extra, VIEWS)).toThrow(
      /the model has no input "other" \(inputs: features\)/,
    );
  });

  it('refuses a model without a batch axis or with a row shape that is not fixed', () => {
    const noBatch = version({ features: { features: FOUR } }, [spec('features', DType.FLOAT32, [1, 4])]);
    expect(() => compileEntityPlan(noBatch, VIEWS)).toThrow(/needs a batch axis/);
    const dynamicRow = version(
      { features: { features: FOUR } },
      [spec('features', DType.FLOAT32, ['N', 4])],
      [spec('y', DType.FLOAT32, ['N', 'K'])],
    );
    expect(() => compileEntityPlan(dynamicRow, VIEWS)).toThrow(
      /output "y" has shape \[N, K\]; past the batch axis every size must be fixed/,
    );
    const rank1 = compileEntityPlan(
      version({ x: { features: ['flowers:sepal_length'] } }, [spec('x', DType.FLOAT32, ['N'])], IRIS_OUTPUTS),
      VIEWS,
    );
    expect(rank1?.inputs[0]?.rowDims).toEqual([]);
  });

  it('refuses views that do not share their join keys', () => {
    const byName = view('by_name', ['sepal_length float32']);
    const other = { ...byName, joinKeys: [{ name: 'flower_name', type: 'string' as const }] };
    const views = viewsOf(flowers, other);
    const mv = version({ features: { features: [...FOUR.slice(0, 3), 'by_name:sepal_length'] } });
    expect(() => compileEntityPlan(mv, views)).toThrow(
      /views flowers \(flower_id int64\) and by_name \(flower_name string\) have different join keys/,
    );
  });

  it('EntityPlans remembers why a mapping does not hold (telling once), without failing the version, and the plan of one that does', () => {
    const told: string[] = [];
    const plans = new EntityPlans(
      () => VIEWS,
      (_mv, problem) => told.push(problem),
    );
    const bad = version({ features: { features: FOUR.slice(0, 2) } });
    expect(() => plans.check(bad)).not.toThrow();
    expect(plans.of(bad)).toBeUndefined();
    expect(plans.problem(bad)).toMatch(/values per row/);
    expect(told).toHaveLength(1);
    const good = version({ features: { features: FOUR } });
    plans.check(good);
    expect(plans.of(good)?.refs).toEqual(FOUR);
    expect(plans.problem(good)).toBeUndefined();
    expect(plans.problem(version(undefined))).toBeUndefined();
  });
});
