import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Frame } from '../../data/frame.ts';
import { readFrame } from '../../data/read.ts';
import { InlineEngine } from '../../engine/inline-engine.ts';
import { DistmlError, ParamError } from '../../errors.ts';
import { r2 } from '../../metrics/regression.ts';
import { splitFrame } from '../../pipeline/split-frame.ts';
import { train } from '../../pipeline/train.ts';
import { regressionTarget } from '../../preprocess/labels.ts';
import type { FittedLinearModel } from './fitted-linear-model.ts';
import type { FittedLinearRegression } from './linear-regression.ts';
import { ridgeDefinition } from './ridge.ts';

// scikit-learn 1.2.1 (Debian's python3-sklearn), on the first 354 rows of data/diabetes.csv:
//   import numpy as np
//   from sklearn.linear_model import Ridge
//   from sklearn.metrics import r2_score
//   d = np.loadtxt('data/diabetes.csv', delimiter=',', skiprows=1)
//   X, y, Xte, yte = d[:354, :10], d[:354, 10], d[354:, :10], d[354:, 10]
//   for m in [Ridge(alpha=1.0), Ridge(alpha=0.1), Ridge(alpha=1.0, fit_intercept=False)]:
//       m.fit(X, y); print(m.coef_.tolist(), m.intercept_, r2_score(yte, m.predict(Xte)))
const SKLEARN = [
  {
    params: { alpha: 1 },
    coef: [
      -0.21765593295630728, -20.527062605859737, 5.786445958757022, 1.016746313801572, -1.1975655223963784,
      0.8604249111604741, 0.2493603755235652, 4.706692678123011, 69.10296951774673, 0.5451283870012639,
    ],
    intercept: -329.5373777906394,
    r2: 0.4550115365576394,
  },
  {
    params: { alpha: 0.1 },
    coef: [
      -0.22417473531778498, -20.800223015309548, 5.727868197747015, 1.0150765816708034, -1.4121289279152407,
      1.0574465135976154, 0.4859319011321149, 5.017727538784248, 75.67577352692894, 0.5370134473650005,
    ],
    intercept: -352.04212058683726,
    r2: 0.4523166359624621,
  },
  {
    params: { alpha: 1, fitIntercept: false },
    coef: [
      -0.17322387462397545, -23.99021096671858, 5.567139249984245, 0.9038401935901793, 1.0419607634979244,
      -1.0323177221543365, -3.2287006660479647, -8.443223716289257, 10.048009228847505, 0.38719211353945177,
    ],
    intercept: 0,
    r2: 0.4238488509402467,
  },
] as const;

/** Within 1e-4 of scikit-learn's value, relatively, or 1e-6 absolutely for values near zero. */
function assertNear(actual: number, expected: number, what: string): void {
  const ok = Math.abs(actual - expected) <= Math.max(1e-4 * Math.abs(expected), 1e-6);
  assert.ok(ok, `${what}: ${actual} vs scikit-learn's ${expected}`);
}

async function diabetes(): Promise<{ train: Frame; test: Frame }> {
  const frame = await readFrame(fileURLToPath(new URL('../../../data/diabetes.csv', import.meta.url)));
  return splitFrame(frame, { testFraction: 0.2, method: 'tail' });
}

test('ridge matches scikit-learn on diabetes: coefficients, intercept and test R²', async () => {
  const { train: rows, test: heldOut } = await diabetes();
  assert.equal(rows.rows, 354);
  for (const expected of SKLEARN) {
    const label = JSON.stringify(expected.params);
    const model = await train(rows, { target: 'target', model: 'ridge', params: expected.params });
    const fitted = model.fitted as FittedLinearModel<unknown>;
    assert.equal(fitted.coef.length, 10);
    for (const [j, c] of expected.coef.entries()) assertNear(fitted.coef[j]!, c, `${label} coef ${j}`);
    assertNear(fitted.intercept, expected.intercept, `${label} intercept`);
    const score = r2(regressionTarget(heldOut.column('target')), model.predict(heldOut).values);
    assert.ok(Math.abs(score - expected.r2) < 0.005, `${label} R² ${score} vs scikit-learn's ${expected.r2}`);
  }
});

test('ridge with alpha = 0 is linear-regression', async () => {
  const { train: rows } = await diabetes();
  const ridge = (await train(rows, { target: 'target', model: 'ridge', params: { alpha: 0 } }))
    .fitted as FittedLinearModel<unknown>;
  const ols = (await train(rows, { target: 'target', model: 'linear-regression' }))
    .fitted as FittedLinearRegression;
  for (let j = 0; j < 10; j++) {
    assert.ok(Math.abs(ridge.coef[j]! - ols.coef[j]!) <= 1e-10 * Math.abs(ols.coef[j]!), `coef ${j}`);
  }
  assert.ok(Math.abs(ridge.intercept - ols.intercept) <= 1e-10 * Math.abs(ols.intercept));
});

test('ridge on 1 and 4 partitions agrees to 1e-10', async () => {
  const { train: rows } = await diabetes();
  const fit = async (partitions: number) =>
    (
      await train(rows, {
        target: 'target',
        model: 'ridge',
        params: { alpha: 0.1 },
        partitions,
        engine: new InlineEngine(),
      })
    ).fitted as FittedLinearModel<unknown>;
  const one = await fit(1);
  const four = await fit(4);
  for (let j = 0; j < 10; j++) {
    assert.ok(Math.abs(one.coef[j]! - four.coef[j]!) <= 1e-10 * Math.abs(one.coef[j]!), `coef ${j}`);
  }
  assert.ok(Math.abs(one.intercept - four.intercept) <= 1e-10 * Math.abs(one.intercept));
});

test('the penalty makes duplicated columns solvable; alpha = 0 names the collinear feature', async () => {
  const a = Float64Array.from({ length: 50 }, (_, i) => Math.sin(i));
  const b = Float64Array.from({ length: 50 }, (_, i) => Math.cos(3 * i));
  const y = Float64Array.from(a, (v, i) => 2 * v - b[i]! + 1);
  const frame = Frame.fromRecord({ a, twin: a.slice(), b, y });
  const fitted = (await train(frame, { target: 'y', model: 'ridge', params: { alpha: 1e-6 } }))
    .fitted as FittedLinearModel<unknown>;
  // The penalty splits a's weight evenly between the two identical columns.
  assert.ok(Math.abs(fitted.coef[0]! - 1) < 1e-5 && Math.abs(fitted.coef[1]! - 1) < 1e-5, `${fitted.coef}`);
  assert.ok(Math.abs(fitted.coef[2]! + 1) < 1e-5);
  await assert.rejects(train(frame, { target: 'y', model: 'ridge', params: { alpha: 0 } }), (err: Error) => {
    assert.ok(err instanceof DistmlError);
    assert.match(err.message, /rank deficient: feature 1 /);
    return true;
  });
});

test('one-hot encoding keeps every level unless alpha = 0 leaves the model unpenalised', () => {
  assert.deepEqual(ridgeDefinition.inputNeeds(ridgeDefinition.params.validate('ridge', {})), {
    standardize: false,
    dropFirstLevel: false,
  });
  assert.equal(ridgeDefinition.inputNeeds({ alpha: 0, fitIntercept: true }).dropFirstLevel, true);
  assert.equal(ridgeDefinition.inputNeeds({ alpha: 0, fitIntercept: false }).dropFirstLevel, false);
  assert.equal(ridgeDefinition.inputNeeds({ alpha: 1, standardize: true }).standardize, true);
});

test('bad parameters are refused by name', () => {
  assert.throws(() => ridgeDefinition.create({ alpha: -1 }), {
    name: ParamError.name,
    message: 'ridge parameter alpha must be ≥ 0, got -1',
  });
  assert.throws(() => ridgeDefinition.create({ l1Ratio: 0.5 }), /ridge has no parameter 'l1Ratio'/);
});

test('restore rebuilds the model from its tensors and refuses mismatched ones', async () => {
  const { train: rows } = await diabetes();
  const model = await train(rows, { target: 'target', model: 'ridge' });
  const restored = ridgeDefinition.restore(
    model.params,
    model.fitted.tensors(),
    { features: 10, classes: 0 },
    model.fitted.info,
  );
  const X = Float64Array.from({ length: 20 }, (_, i) => i + 1);
  assert.deepStrictEqual(restored.predict(X, 2), model.fitted.predict(X, 2));
  assert.equal(restored.name, 'ridge');
  assert.throws(
    () => ridgeDefinition.restore(model.params, model.fitted.tensors(), { features: 9, classes: 0 }, {}),
    /ridge tensors do not match 9 features: coef has 10 values/,
  );
});
