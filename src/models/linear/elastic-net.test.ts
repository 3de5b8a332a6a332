import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Frame } from '../../data/frame.ts';
import { readFrame } from '../../data/read.ts';
import { InlineEngine } from '../../engine/inline-engine.ts';
import { ParamError } from '../../errors.ts';
import { r2 } from '../../metrics/regression.ts';
import { splitFrame } from '../../pipeline/split-frame.ts';
import { train } from '../../pipeline/train.ts';
import { regressionTarget } from '../../preprocess/labels.ts';
import type { FitProgress } from '../estimator.ts';
import type { RawParams } from '../params.ts';
import { elasticNetDefinition, lassoDefinition } from './elastic-net.ts';
import type { FittedLinearModel } from './fitted-linear-model.ts';

// scikit-learn 1.2.1 (Debian's python3-sklearn), on the first 354 rows of data/diabetes.csv:
//   import numpy as np
//   from sklearn.linear_model import Lasso, ElasticNet
//   from sklearn.preprocessing import StandardScaler
//   from sklearn.metrics import r2_score
//   d = np.loadtxt('data/diabetes.csv', delimiter=',', skiprows=1)
//   X, y, Xte, yte = d[:354, :10], d[:354, 10], d[354:, :10], d[354:, 10]
//   for m in [Lasso(alpha=0.1), Lasso(alpha=1.0), ElasticNet(alpha=0.1, l1_ratio=0.5),
//             Lasso(alpha=0.1, tol=1e-12, max_iter=100000), Lasso(alpha=1.0, fit_intercept=False)]:
//       m.fit(X, y); print(m.coef_.tolist(), m.intercept_, m.n_iter_, r2_score(yte, m.predict(Xte)))
//   s = StandardScaler().fit(X); m = Lasso(alpha=1.0).fit(s.transform(X), y)
//   print(m.coef_.tolist(), m.intercept_, m.n_iter_, r2_score(yte, m.predict(s.transform(Xte))))
// The last Lasso stops at max_iter with a ConvergenceWarning (duality gap 4.531e+05, tolerance 1.083e+03).
interface Reference {
  readonly model: 'lasso' | 'elastic-net';
  readonly params: RawParams;
  readonly coef: readonly number[];
  readonly intercept: number;
  /** scikit-learn's n_iter_: the same algorithm should stop after the same number of sweeps. */
  readonly sweeps: number;
  readonly r2: number;
}
const LASSO_01: Reference = {
  model: 'lasso',
  params: { alpha: 0.1 },
  coef: [
    -0.22170473669471438, -20.308556390872738, 5.753772559474507, 1.0112798246341452, -1.2818472694287966,
    0.9480475425519104, 0.31507060532448317, 4.27314082557857, 72.23992582554408, 0.5410498895352022,
  ],
  intercept: -338.12776378621214,
  sweeps: 567,
  r2: 0.4531001454294139,
};
const LASSO_1: Reference = {
  model: 'lasso',
  params: { alpha: 1 },
  coef: [
    -0.19348283448693368, -15.604718307498665, 6.041134738899665, 0.98529894486581, -0.1321847653272698,
    -0.05715018382964369, -1.0471230571284074, 0.0, 39.37088309481895, 0.579766635293885,
  ],
  intercept: -218.90588682266787,
  sweeps: 317,
  r2: 0.453659273374717,
};
const ENET: Reference = {
  model: 'elastic-net',
  params: { alpha: 0.1, l1Ratio: 0.5 },
  coef: [
    -0.1804832768342131, -16.37170105293987, 6.18833916649107, 1.008854260382342, 0.22942006363548106,
    -0.44400300710490853, -1.3096055769353119, 2.2566758054525757, 25.91801218602376, 0.5949199219877023,
  ],
  intercept: -183.42013197228096,
  sweeps: 253,
  r2: 0.45536643121772,
};
const LASSO_TIGHT: Reference = {
  model: 'lasso',
  params: { alpha: 0.1, tol: 1e-12, maxIter: 100000 },
  coef: [
    -0.2217062646471524, -20.308582214577616, 5.753762282843514, 1.0112806348155168, -1.281930050663016,
    0.9481208835193213, 0.31517081358533194, 4.273430976500139, 72.24197947953672, 0.541050464247037,
  ],
  intercept: -338.1360047494505,
  sweeps: 1581,
  r2: 0.4530989321129406,
};
const LASSO_NOT_CONVERGED: Reference = {
  model: 'lasso',
  params: { alpha: 1, fitIntercept: false },
  coef: [
    -0.14861555371740917, -19.619242642847322, 5.718016515552378, 0.9005105492734895, 1.1585891827243728,
    -1.2655380783428134, -2.9324717481361664, -2.003000382791452, 0.0, 0.37904643002171473,
  ],
  intercept: 0,
  sweeps: 1000,
  r2: 0.4295549340061694,
};
const LASSO_STANDARDIZED: Reference = {
  model: 'lasso',
  params: { alpha: 1, standardize: true },
  coef: [
    -1.1129893304332785, -8.403107763907736, 25.797339270124596, 12.550450484550677, -6.231144259733126, -0.0,
    -11.323562103887577, 0.0, 23.988935441477597, 5.417899253115542,
  ],
  intercept: 156.22033898305088,
  sweeps: 18,
  r2: 0.4726702332790931,
};

/** Within 1e-4 of scikit-learn's value, relatively, or 1e-6 absolutely for values near zero. */
function assertNear(actual: number, expected: number, what: string): void {
  const ok = Math.abs(actual - expected) <= Math.max(1e-4 * Math.abs(expected), 1e-6);
  assert.ok(ok, `${what}: ${actual} vs scikit-learn's ${expected}`);
}

async function diabetes(): Promise<{ train: Frame; test: Frame }> {
  const frame = await readFrame(fileURLToPath(new URL('../../../data/diabetes.csv', import.meta.url)));
  return splitFrame(frame, { testFraction: 0.2, method: 'tail' });
}

async function checkAgainst(expected: Reference): Promise<FittedLinearModel<unknown>> {
  const { train: rows, test: heldOut } = await diabetes();
  const label = `${expected.model} ${JSON.stringify(expected.params)}`;
  const model = await train(rows, { target: 'target', model: expected.model, params: expected.params });
  const fitted = model.fitted as FittedLinearModel<unknown>;
  assert.equal(fitted.name, expected.model);
  expected.coef.forEach((c, j) => {
    assertNear(fitted.coef[j]!, c, `${label} coef ${j}`);
    // Sparsity is exact: a coefficient scikit-learn sets to zero is zero here too, and vice versa.
    assert.equal(
      fitted.coef[j] === 0,
      c === 0,
      `${label} coef ${j} is ${fitted.coef[j]}, scikit-learn's ${c}`,
    );
  });
  assertNear(fitted.intercept, expected.intercept, `${label} intercept`);
  assert.equal(fitted.info.iterations, expected.sweeps, `${label} sweeps`);
  const score = r2(regressionTarget(heldOut.column('target')), model.predict(heldOut).values);
  assert.ok(Math.abs(score - expected.r2) < 0.005, `${label} R² ${score} vs scikit-learn's ${expected.r2}`);
  return fitted;
}

test('lasso matches scikit-learn on diabetes, alpha = 0.1 and 1, with the same number of sweeps', async () => {
  for (const expected of [LASSO_01, LASSO_1]) {
    const fitted = await checkAgainst(expected);
    assert.equal(fitted.info.converged, true);
    assert.deepEqual(fitted.info.warnings, []);
  }
});

test('lasso zeroes the coefficients scikit-learn zeroes', async () => {
  const fitted = await checkAgainst(LASSO_1);
  assert.deepEqual(
    Array.from(fitted.coef, (c, j) => (c === 0 ? j : -1)).filter((j) => j >= 0),
    [7],
  );
  const standardized = await checkAgainst(LASSO_STANDARDIZED);
  assert.deepEqual(
    Array.from(standardized.coef, (c, j) => (c === 0 ? j : -1)).filter((j) => j >= 0),
    [5, 7],
  );
});

test('elastic-net matches scikit-learn on diabetes, alpha = 0.1, l1Ratio = 0.5', async () => {
  await checkAgainst(ENET);
});

test('with a tight tol, lasso reaches scikit-learn’s exact optimum', async () => {
  await checkAgainst(LASSO_TIGHT);
});

test('a fit that runs out of sweeps says so, and stops where scikit-learn stops', async () => {
  const fitted = await checkAgainst(LASSO_NOT_CONVERGED);
  assert.equal(fitted.info.converged, false);
  assert.equal(fitted.info.reason, 'max-iterations');
  assert.equal(fitted.info.warnings?.length, 1);
  // scikit-learn: "Duality gap: 4.531e+05, tolerance: 1.083e+03".
  assert.match(
    fitted.info.warnings![0]!,
    /did not converge in 1000 sweeps: duality gap 4\.531e\+5 > tol·yᵀy = 1083; raise maxIter/,
  );
});

test('elastic-net on 1 and 4 partitions agrees to 1e-10', async () => {
  const { train: rows } = await diabetes();
  const fit = async (partitions: number) =>
    (
      await train(rows, {
        target: 'target',
        model: 'elastic-net',
        params: ENET.params,
        partitions,
        engine: new InlineEngine(),
      })
    ).fitted as FittedLinearModel<unknown>;
  const one = await fit(1);
  const four = await fit(4);
  assert.equal(four.info.iterations, one.info.iterations);
  for (let j = 0; j < 10; j++) {
    assert.ok(Math.abs(one.coef[j]! - four.coef[j]!) <= 1e-10 * Math.abs(one.coef[j]!), `coef ${j}`);
  }
  assert.ok(Math.abs(one.intercept - four.intercept) <= 1e-10 * Math.abs(one.intercept));
});

test('elastic-net with l1Ratio = 1 is the lasso; with l1Ratio = 0 it is ridge with alpha·n', async () => {
  const { train: rows } = await diabetes();
  const fitOf = async (model: string, params: RawParams) =>
    (await train(rows, { target: 'target', model, params })).fitted as FittedLinearModel<unknown>;
  const enet1 = await fitOf('elastic-net', { alpha: 0.5, l1Ratio: 1 });
  const lasso = await fitOf('lasso', { alpha: 0.5 });
  assert.deepStrictEqual(enet1.tensors(), lasso.tensors());
  const enet0 = await fitOf('elastic-net', { alpha: 0.01, l1Ratio: 0 });
  const ridge = await fitOf('ridge', { alpha: 0.01 * rows.rows });
  for (let j = 0; j < 10; j++) {
    assert.ok(Math.abs(enet0.coef[j]! - ridge.coef[j]!) <= 1e-10 * Math.abs(ridge.coef[j]!), `coef ${j}`);
  }
  assert.equal(enet0.info.converged, true);
});

test('progress reports scikit-learn’s objective after every sweep, never increasing', async () => {
  const { train: rows } = await diabetes();
  const seen: FitProgress[] = [];
  const model = await train(rows, {
    target: 'target',
    model: 'lasso',
    params: { alpha: 0.1 },
    onProgress: (p) => seen.push(p),
  });
  const fitted = model.fitted as FittedLinearModel<unknown>;
  assert.equal(seen.length, LASSO_01.sweeps);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.loss <= seen[i - 1]!.loss * (1 + 1e-14));
  // 1/(2n)·‖y − ŷ‖² + alpha·‖w‖₁, computed from the predictions.
  const y = regressionTarget(rows.column('target'));
  const yHat = model.predict(rows).values;
  let rss = 0;
  for (let i = 0; i < y.length; i++) rss += (y[i]! - yHat[i]!) ** 2;
  let l1 = 0;
  for (const c of fitted.coef) l1 += Math.abs(c);
  const objective = rss / (2 * y.length) + 0.1 * l1;
  assert.ok(Math.abs(fitted.info.finalLoss! - objective) <= 1e-9 * objective);
  assert.equal(seen.at(-1)!.loss, fitted.info.finalLoss);
});

test('bad parameters are refused by name', () => {
  assert.throws(() => lassoDefinition.create({ alpha: 0 }), {
    name: ParamError.name,
    message: 'lasso parameter alpha must be > 0, got 0',
  });
  assert.throws(() => lassoDefinition.create({ l1Ratio: 0.5 }), /lasso has no parameter 'l1Ratio'/);
  assert.throws(() => elasticNetDefinition.create({ l1Ratio: 1.5 }), {
    message: 'elastic-net parameter l1Ratio must be ≤ 1, got 1.5',
  });
  assert.throws(() => elasticNetDefinition.create({ maxIter: 2.5 }), /maxIter must be an integer, got 2.5/);
});

test('restore rebuilds either model from its tensors', async () => {
  const { train: rows } = await diabetes();
  for (const definition of [lassoDefinition, elasticNetDefinition]) {
    const model = await train(rows, { target: 'target', model: definition.name });
    const restored = definition.restore(
      model.params,
      model.fitted.tensors(),
      { features: 10, classes: 0 },
      model.fitted.info,
    );
    assert.equal(restored.name, definition.name);
    const X = Float64Array.from({ length: 30 }, (_, i) => i - 7);
    assert.deepStrictEqual(restored.predict(X, 3), model.fitted.predict(X, 3));
    assert.deepEqual(definition.inputNeeds(model.params), { standardize: false, dropFirstLevel: false });
  }
});
