import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DistmlError } from '../errors.ts';
import { explainedVariance, mae, mse, r2, regressionScores, rmse } from './regression.ts';

// Expected values marked "sklearn" were computed once with Debian's scikit-learn 1.2.1
// (/usr/bin/python3, `from sklearn import metrics as M`) by the snippet quoted beside them, and
// pasted here; the tests never run Python. Closed-form answers must agree to 1e-12 relative.

function assertClose(actual: number, expected: number, rel = 1e-12): void {
  assert.ok(
    Math.abs(actual - expected) <= rel * Math.abs(expected),
    `${actual} is not within ${rel} (relative) of ${expected}`,
  );
}

function throwsCode(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DistmlError, `expected a DistmlError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  });
}

const f64 = (xs: readonly number[]): Float64Array => Float64Array.from(xs);

// Hand case: residuals y − ŷ = [0, 0, 0, −2].
//   mse = 4/4 = 1; rmse = 1; mae = 2/4 = 1/2
//   ȳ = 2.5, Σ(y − ȳ)² = 2.25 + 0.25 + 0.25 + 2.25 = 5 → r2 = 1 − 4/5 = 1/5
//   mean residual −1/2, Var(residual) = (3·0.25 + 2.25)/4 = 3/4, Var(y) = 5/4 → EV = 1 − 3/5 = 2/5
const handTrue = f64([1, 2, 3, 4]);
const handPred = f64([1, 2, 3, 6]);

// sklearn: rng = np.random.default_rng(3); y = np.round(rng.normal(10, 4, 20), 3);
//   p = np.round(y + rng.normal(0.5, 2, 20), 3)
const y = f64([
  18.164, -0.223, 11.672, 7.729, 8.189, 9.138, 1.92, 9.072, 6.539, 23.292, 10.903, 8.589, 8.875, 7.328, 5.779,
  8.437, 11.928, 9.046, 13.831, 9.201,
]);
const p = f64([
  18.713, 3.369, 13.262, 7.219, 8.323, 10.719, 6.29, 9.033, 6.552, 25.797, 9.63, 8.506, 11.14, 8.989, 6.462,
  10.277, 6.772, 11.589, 12.412, 6.364,
]);

describe('regression metrics', () => {
  test('hand case', () => {
    assert.equal(mse(handTrue, handPred), 1);
    assert.equal(rmse(handTrue, handPred), 1);
    assert.equal(mae(handTrue, handPred), 0.5);
    assertClose(r2(handTrue, handPred), 1 / 5);
    assertClose(explainedVariance(handTrue, handPred), 2 / 5);
  });
  test('match sklearn on noisy, biased predictions', () => {
    // sklearn: M.mean_squared_error(y, p) → 5.018258250000001;
    //   M.mean_squared_error(y, p, squared=False) → 2.24014692598499; M.mean_absolute_error(y, p) → 1.73215
    //   M.r2_score(y, p) → 0.7925246166344351; M.explained_variance_score(y, p) → 0.8074308277152191
    assertClose(mse(y, p), 5.018258250000001);
    assertClose(rmse(y, p), 2.24014692598499);
    assertClose(mae(y, p), 1.73215);
    assertClose(r2(y, p), 0.7925246166344351);
    assertClose(explainedVariance(y, p), 0.8074308277152191);
  });
  test('regressionScores gathers the same numbers', () => {
    const s = regressionScores(y, p);
    assert.deepEqual(s, {
      r2: r2(y, p),
      rmse: rmse(y, p),
      mae: mae(y, p),
      mse: mse(y, p),
      explainedVariance: explainedVariance(y, p),
    });
  });
  test('constant yTrue follows force_finite: 1 if perfect, else 0', () => {
    // sklearn: c = np.full(4, 3.0); M.r2_score / M.explained_variance_score on
    //   (c, c) → 1.0, 1.0; (c, c + [0, 1, 0, 0]) → 0.0, 0.0; (c, c + 1) → 0.0, 1.0
    const c = f64([3, 3, 3, 3]);
    assert.equal(r2(c, c), 1);
    assert.equal(explainedVariance(c, c), 1);
    assert.equal(r2(c, f64([3, 4, 3, 3])), 0);
    assert.equal(explainedVariance(c, f64([3, 4, 3, 3])), 0);
    // A constant shift leaves the residual variance 0, so explained variance is perfect but R² is not.
    assert.equal(r2(c, f64([4, 4, 4, 4])), 0);
    assert.equal(explainedVariance(c, f64([4, 4, 4, 4])), 1);
  });
  test('mismatched lengths name both lengths; empty and non-finite input is refused', () => {
    for (const fn of [mse, rmse, mae, r2, explainedVariance, regressionScores]) {
      throwsCode(() => fn(f64([1, 2, 3]), f64([1, 2])), 'DATA_VALUE', /yTrue has 3 samples but yPred has 2/);
      throwsCode(
        () => fn(new Float64Array(0), new Float64Array(0)),
        'DATA_EMPTY',
        /yTrue and yPred are empty/,
      );
    }
    throwsCode(() => r2(f64([1, Number.NaN]), f64([1, 2])), 'DATA_VALUE', /r2: yTrue\[1\] is NaN/);
    throwsCode(
      () => mse(f64([1, 2]), f64([1, Number.POSITIVE_INFINITY])),
      'DATA_VALUE',
      /yPred\[1\] is Infinity/,
    );
  });
});
