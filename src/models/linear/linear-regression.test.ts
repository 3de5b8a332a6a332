import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Frame } from '../../data/frame.ts';
import { readFrame } from '../../data/read.ts';
import { InlineEngine } from '../../engine/inline-engine.ts';
import { DataValueError, UsageError } from '../../errors.ts';
import { cholesky, choleskySolve } from '../../linalg/index.ts';
import { train } from '../../pipeline/train.ts';
import type { FittedLinearModel } from './fitted-linear-model.ts';
import type { FittedLinearRegression } from './linear-regression.ts';
import { normalEquations } from './normal-equations.ts';

// Expected numbers: scikit-learn 1.2.1 and numpy 1.24.2 (Debian's /usr/bin/python3) on the first
// 354 rows of data/diabetes.csv, with two dependent columns appended:
//   import numpy as np
//   from sklearn.linear_model import LinearRegression, Ridge
//   d = np.loadtxt('data/diabetes.csv', delimiter=',', skiprows=1)
//   X, y = d[:354, :10], d[:354, 10]
//   Xa = np.column_stack([X, X[:, 2], X[:, 0] + X[:, 1]])        # bmi twice; age + sex
//   LinearRegression().fit(Xa, y)                                 # → WITH_INTERCEPT (rank_ 10)
//   LinearRegression(fit_intercept=False).fit(Xa, y)              # → NO_INTERCEPT (rank_ 10)
//   Xb = np.column_stack([X, X[:, 2], 2 * X[:, 3] - X[:, 4]])     # bmi twice; 2·bp − s1
//   mu = Xb.mean(0); x = np.linalg.lstsq(Xb - mu, y - y.mean(), rcond=1e-12)[0]  # → COMBINATION
//   w = np.array([(i % 7) / 2 for i in range(354)])
//   LinearRegression().fit(X, y, sample_weight=w)                 # → WEIGHTED
//   LinearRegression().fit(Xa, y, sample_weight=w)                # → WEIGHTED_DEFICIENT
//   Ridge(alpha=1.0).fit(X, y, sample_weight=w)                   # → RIDGE_WEIGHTED
// For 2·bp − s1, scikit-learn itself returns coefficients of 4.6e13: scipy's lstsq cuts singular
// values below ε·σ₁ only, and centring leaves this column's rounding above that. numpy.lstsq with
// rcond=1e-12 on the same centred data gives the minimum-norm answer, which is what distml promises.
const WITH_INTERCEPT = {
  coef: [
    6.79372228910964, -13.812427833388664, 2.8603440270697353, 1.0148499736656713, -1.43850429621614,
    1.0816688435099324, 0.515038632109384, 5.0556900696630445, 76.48423877591422, 0.5360104887374016,
    2.8603440270697775, -7.018705544278943,
  ],
  intercept: -354.81298661686736,
};
const NO_INTERCEPT = {
  coef: [
    8.002187791731945, -16.177828123291963, 2.7764185816000424, 0.9047690336521127, 1.0284325833890682,
    -1.01593994240112, -3.233190780331495, -8.6271318695927, 10.604932249982937, 0.38602303612780603,
    2.776418581600001, -8.175640331559862,
  ],
  intercept: 0,
};
const COMBINATION = {
  coef: [
    -0.22498325516930087, -20.831133377667634, 2.8603440270697127, -0.14121810751696595, -0.8604702556248268,
    1.081668843509944, 0.5150386321093957, 5.055690069663043, 76.48423877591433, 0.536010488737406,
    2.860344027069824, 0.578034040591318,
  ],
  intercept: -354.81298661686986,
};
const WEIGHTED = {
  coef: [
    0.02916571901859201, -14.623478165628441, 5.726896513308508, 0.8100991858987725, -1.8152034873796814,
    1.2352285182495528, 0.9247899609697033, 7.860098611194143, 93.02365755230086, 0.8340020337520092,
  ],
  intercept: -436.2984996363946,
};
const WEIGHTED_DEFICIENT = {
  coef: [
    4.893936534555156, -9.758707350091818, 2.863448256654259, 0.810099185898765, -1.8152034873796703,
    1.2352285182495413, 0.9247899609696978, 7.860098611194114, 93.02365755230075, 0.8340020337520325,
    2.8634482566542263, -4.864770815536569,
  ],
  intercept: -436.29849963639515,
};
const RIDGE_WEIGHTED = {
  coef: [
    0.03888185581280305, -14.420536036635834, 5.767211179845181, 0.8113649902712932, -1.5464482576057264,
    0.9836355701473485, 0.6368129267718676, 7.529455062619961, 85.71525699985813, 0.8432621644555051,
  ],
  intercept: -411.2402751165723,
};

/** Within 1e-6 of the reference, relatively, or 1e-8 absolutely for values near zero. */
function assertClose(
  fitted: { coef: Float64Array; intercept: number },
  expected: { coef: readonly number[]; intercept: number },
  what: string,
): void {
  const near = (a: number, e: number) => Math.abs(a - e) <= Math.max(1e-6 * Math.abs(e), 1e-8);
  assert.equal(fitted.coef.length, expected.coef.length, `${what}: features`);
  for (const [j, c] of expected.coef.entries()) {
    assert.ok(near(fitted.coef[j]!, c), `${what} coef ${j}: ${fitted.coef[j]} vs ${c}`);
  }
  assert.ok(near(fitted.intercept, expected.intercept), `${what} intercept: ${fitted.intercept}`);
}

const NAMES = ['age', 'sex', 'bmi', 'bp', 's1', 's2', 's3', 's4', 's5', 's6'] as const;

/** The first 354 rows of diabetes as columns, with the weights w_i = (i mod 7)/2. */
async function diabetes(): Promise<Record<string, Float64Array>> {
  const frame = await readFrame(fileURLToPath(new URL('../../../data/diabetes.csv', import.meta.url)));
  const out: Record<string, Float64Array> = {};
  for (const name of [...NAMES, 'target']) {
    const c = frame.column(name);
    assert.equal(c.kind, 'number');
    if (c.kind === 'number') out[name] = c.values.slice(0, 354);
  }
  out.w = Float64Array.from({ length: 354 }, (_, i) => (i % 7) / 2);
  return out;
}

function fitted(model: { fitted: unknown }): FittedLinearRegression {
  return model.fitted as FittedLinearRegression;
}

test('a duplicated column and a linear combination get the minimum-norm answer, as scikit-learn’s', async () => {
  const d = await diabetes();
  const features = Object.fromEntries(NAMES.map((n) => [n, d[n]!]));
  const agesex = Float64Array.from(d.age!, (a, i) => a + d.sex![i]!);
  const frame = Frame.fromRecord({ ...features, bmi2: d.bmi!.slice(), agesex, target: d.target! });
  for (const partitions of [1, 3]) {
    const engine = new InlineEngine();
    const model = await train(frame, { target: 'target', model: 'linear-regression', engine, partitions });
    const fit = fitted(model);
    assertClose(fit, WITH_INTERCEPT, `with intercept, ${partitions} partition(s)`);
    assert.match(fit.info.reason ?? '', /^TSQR \(normal equations' condition estimate infinite > 1e\+8\)$/);
    assert.equal(fit.info.warnings?.length, 1);
    assert.match(
      fit.info.warnings![0]!,
      /^the design matrix is rank deficient \(rank 10 of 12 features\): 'bmi2', 'agesex' are linear combinations of the other features/,
    );
  }
  const noIntercept = await train(frame, {
    target: 'target',
    model: 'linear-regression',
    params: { fitIntercept: false },
  });
  assertClose(fitted(noIntercept), NO_INTERCEPT, 'without intercept');
  assert.match(fitted(noIntercept).info.warnings![0]!, /rank 10 of 12 features\): 'bmi2', 'agesex' are/);
});

test('a combination that rounding leaves slightly independent is still found dependent', async () => {
  const d = await diabetes();
  const features = Object.fromEntries(NAMES.map((n) => [n, d[n]!]));
  const combo = Float64Array.from(d.bp!, (bp, i) => 2 * bp - d.s1![i]!);
  const frame = Frame.fromRecord({ ...features, bmi2: d.bmi!.slice(), combo, target: d.target! });
  const fit = fitted(await train(frame, { target: 'target', model: 'linear-regression', partitions: 2 }));
  assertClose(fit, COMBINATION, '2·bp − s1');
  assert.match(fit.info.warnings![0]!, /\(rank 10 of 12 features\): 'bmi2', 'combo' are linear combinations/);
});

test('a constant column is dependent on the intercept and gets coefficient 0', async () => {
  const d = await diabetes();
  const features = Object.fromEntries(NAMES.map((n) => [n, d[n]!]));
  const frame = Frame.fromRecord({ ...features, seven: new Float64Array(354).fill(7.3), target: d.target! });
  const fit = fitted(await train(frame, { target: 'target', model: 'linear-regression' }));
  // Its centred remains are rounding noise, so the minimum-norm answer leaves it rounding-sized.
  assert.ok(Math.abs(fit.coef[10]!) < 1e-9, `coef of the constant: ${fit.coef[10]}`);
  assert.match(fit.info.warnings![0]!, /\(rank 10 of 11 features\): 'seven' is a linear combination/);
  const plain = fitted(
    await train(Frame.fromRecord({ ...features, target: d.target! }), {
      target: 'target',
      model: 'linear-regression',
    }),
  );
  for (let j = 0; j < 10; j++)
    assert.ok(Math.abs(fit.coef[j]! - plain.coef[j]!) <= 1e-9 * Math.abs(plain.coef[j]!));
});

test('sample weights match scikit-learn’s LinearRegression and Ridge (sample_weight=…)', async () => {
  const d = await diabetes();
  const features = Object.fromEntries(NAMES.map((n) => [n, d[n]!]));
  const frame = Frame.fromRecord({ ...features, target: d.target!, w: d.w! });
  for (const partitions of [1, 4]) {
    const options = { target: 'target', sampleWeight: 'w', partitions, engine: new InlineEngine() };
    const ols = fitted(await train(frame, { ...options, model: 'linear-regression' }));
    assertClose(ols, WEIGHTED, `weighted OLS, ${partitions} partition(s)`);
    assert.equal(ols.info.reason, 'normal equations');
    const ridge = (await train(frame, { ...options, model: 'ridge', params: { alpha: 1 } }))
      .fitted as FittedLinearModel<unknown>;
    assertClose(ridge, RIDGE_WEIGHTED, `weighted ridge, ${partitions} partition(s)`);
  }
  // Weighted and rank deficient: the TSQR pass scales rows by √w.
  const agesex = Float64Array.from(d.age!, (a, i) => a + d.sex![i]!);
  const deficient = Frame.fromRecord({
    ...features,
    bmi2: d.bmi!.slice(),
    agesex,
    target: d.target!,
    w: d.w!,
  });
  const fit = fitted(
    await train(deficient, {
      target: 'target',
      model: 'linear-regression',
      sampleWeight: 'w',
      partitions: 3,
    }),
  );
  assertClose(fit, WEIGHTED_DEFICIENT, 'weighted, rank deficient');
  // Weight 0 leaves a row out: the same fit as without those rows.
  const kept = [...d.w!.keys()].filter((i) => d.w![i]! > 0);
  const pick = (v: Float64Array) => Float64Array.from(kept, (i) => v[i]!);
  const subset = Frame.fromRecord({
    ...Object.fromEntries(NAMES.map((n) => [n, pick(d[n]!)])),
    target: pick(d.target!),
    w: pick(d.w!),
  });
  const without = fitted(
    await train(subset, { target: 'target', model: 'linear-regression', sampleWeight: 'w' }),
  );
  const withZeros = fitted(
    await train(frame, { target: 'target', model: 'linear-regression', sampleWeight: 'w' }),
  );
  for (let j = 0; j < 10; j++) {
    assert.ok(
      Math.abs(without.coef[j]! - withZeros.coef[j]!) <= 1e-9 * Math.abs(withZeros.coef[j]!),
      `coef ${j}`,
    );
  }
});

test('bad sample weights are refused, naming the column', async () => {
  const x = Float64Array.from({ length: 20 }, (_, i) => i);
  const base = { x, y: Float64Array.from(x, (v) => 2 * v + 1) };
  const fit = (record: Parameters<typeof Frame.fromRecord>[0], model = 'linear-regression', column = 'w') =>
    train(Frame.fromRecord(record), { target: 'y', model, sampleWeight: column });
  await assert.rejects(
    fit({ ...base, w: new Float64Array(20).fill(1) }, 'logistic-regression'),
    (err: Error) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /^--sample-weight: logistic-regression does not support sample weights/);
      return true;
    },
  );
  await assert.rejects(fit(base, 'linear-regression', 'y'), /--sample-weight: column 'y' is the target/);
  await assert.rejects(fit(base, 'linear-regression', 'wt'), /--sample-weight: no column 'wt'/);
  const bad = (w: unknown[], pattern: RegExp) =>
    assert.rejects(fit({ ...base, w: w as readonly string[] }), (err: Error) => {
      assert.ok(err instanceof DataValueError, String(err));
      assert.match(err.message, pattern);
      return true;
    });
  const ones = () => Array.from({ length: 20 }, () => 1 as unknown);
  await bad(Object.assign(ones(), { 3: -1 }), /^sample weight column 'w' holds -1 in data row 4/);
  await bad(
    Object.assign(ones(), { 5: null }),
    /^sample weight column 'w' holds a missing value in data row 6/,
  );
  await bad(Object.assign(ones(), { 0: 'heavy' }), /^sample weight column 'w' holds text \(e\.g\. 'heavy'\)/);
  await bad(
    Array.from({ length: 20 }, () => 0),
    /^sample weight column 'w' is all zeros/,
  );
  const infinite = Float64Array.from({ length: 20 }, (_, i) => (i === 7 ? Number.POSITIVE_INFINITY : 1));
  await assert.rejects(
    fit({ ...base, w: infinite }),
    /sample weight column 'w' holds Infinity in data row 8/,
  );
});

test('an ill-conditioned full-rank design is solved by TSQR, far more accurately than normal equations', async () => {
  // Two features at an angle of about 1e-5 (κ(X) ≈ 1e5, so κ(XᵀX) ≈ 1e10) and a noise-free target
  // with known coefficients: the exact least-squares answer is [2, −3] and intercept 1.
  const n = 400;
  const a = Float64Array.from({ length: n }, (_, i) => Math.sin(i) + 2);
  const b = Float64Array.from(a, (v, i) => v + 1e-5 * Math.cos(7 * i));
  const c = Float64Array.from({ length: n }, (_, i) => Math.cos(3 * i));
  const y = Float64Array.from(a, (v, i) => 1 + 2 * v - 3 * b[i]! + 0.5 * c[i]!);
  const frame = Frame.fromRecord({ a, b, c, y });
  const fit = fitted(await train(frame, { target: 'y', model: 'linear-regression', partitions: 3 }));
  assert.match(fit.info.reason ?? '', /^TSQR \(normal equations' condition estimate \d\.\de\+\d+ > 1e\+8\)$/);
  assert.equal(fit.info.warnings, undefined);
  const truth = [2, -3, 0.5];
  const error = (coef: Float64Array) => Math.max(...truth.map((t, j) => Math.abs(coef[j]! - t)));
  // What the normal equations alone would give on the same data and partitions.
  const engine = new InlineEngine();
  const X = new Float64Array(n * 3);
  for (let i = 0; i < n; i++) X.set([a[i]!, b[i]!, c[i]!], i * 3);
  const matrix = await engine.distribute({ rows: n, cols: 3, X, y }, { partitions: 3 });
  const system = await normalEquations(engine, matrix, true);
  const L = system.gram.slice();
  assert.ok(cholesky(L, 3), 'the Gram matrix is still positive definite');
  const viaGram = choleskySolve(L, 3, system.xty.slice());
  const tsqrError = error(fit.coef);
  const gramError = error(viaGram);
  assert.ok(tsqrError < 1e-8, `TSQR error ${tsqrError}`);
  assert.ok(Math.abs(fit.intercept - 1) < 1e-8, `intercept ${fit.intercept}`);
  // Measured: TSQR 9.3e-12, the normal equations 2.0e-5 (condition estimate 9.0e+10).
  assert.ok(gramError > 1000 * tsqrError, `normal equations' error ${gramError} vs TSQR's ${tsqrError}`);
});
