import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DistmlError } from '../errors.ts';
import { adjustedRandIndex, inertia } from './clustering.ts';

// Expected values marked "sklearn" were computed once with Debian's scikit-learn 1.2.1
// (/usr/bin/python3) by the snippet quoted beside them, and pasted here; the tests never run
// Python. Closed-form answers must agree to 1e-12 relative.

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

const i32 = (xs: readonly number[]): Int32Array => Int32Array.from(xs);
const f64 = (xs: readonly number[]): Float64Array => Float64Array.from(xs);

describe('inertia', () => {
  test('hand case: squared distances 1 + 1 + 1', () => {
    // (0,0) and (2,0) to center (1,0): 1 each; (10,10) to center (10,11): 1.
    assert.equal(inertia(f64([0, 0, 2, 0, 10, 10]), 3, 2, f64([1, 0, 10, 11]), i32([0, 0, 1])), 3);
  });
  test('matches the k-means objective of a fitted sklearn model', () => {
    // sklearn: rng = np.random.default_rng(5); (50 + 50 + 50 draws for the ARI case below, then)
    //   X = np.round(rng.normal(0, 1, (15, 3)), 2)
    //   km = KMeans(n_clusters=3, n_init=1, random_state=0).fit(X); C = km.cluster_centers_; lab = km.labels_
    //   float(((X - C[lab]) ** 2).sum()) → 13.055276190476192 (km.inertia_ is 13.05527619047619)
    const X = f64([
      -0.72, -0.52, 0.16, -0.38, 0.1, 1.9, 0.48, -1.58, 1.73, 0.35, -0.94, 0.91, 0.02, -0.62, -0.63, -0.99,
      0.05, 1.07, -0.33, 0.42, 1.88, -1.21, 0.26, -0.31, -1.06, -1.03, -0.02, 0.43, -0.53, 0.05, 0.72, 0.3,
      0.87, 0.46, 0.49, 1.83, 0.62, 0.13, 0.71, -0.92, -0.34, 0.79, 0.63, 1.55, 0.01,
    ]);
    const C = f64([
      0.4642857142857142, -0.24142857142857135, 0.5214285714285714, -0.9800000000000001, -0.316,
      0.3380000000000001, -0.08333333333333334, 0.33666666666666667, 1.87,
    ]);
    const labels = i32([1, 2, 0, 0, 0, 1, 2, 1, 1, 0, 0, 2, 0, 1, 0]);
    assertClose(inertia(X, 15, 3, C, labels), 13.055276190476192);
  });
  test('refuses shapes that do not fit and labels without a center', () => {
    const X = f64([0, 0, 1, 1]);
    throwsCode(
      () => inertia(X, 3, 2, f64([0, 0]), i32([0, 0, 0])),
      'DATA_VALUE',
      /X has 4 values, expected n × d = 3 × 2 = 6/,
    );
    throwsCode(
      () => inertia(X, 2, 2, f64([0, 0]), i32([0])),
      'DATA_VALUE',
      /labels has 1 values but X has 2 rows/,
    );
    throwsCode(() => inertia(X, 2, 2, f64([0, 0, 0]), i32([0, 0])), 'DATA_VALUE', /centers has 3 values/);
    throwsCode(
      () => inertia(X, 2, 2, f64([0, 0]), i32([0, 1])),
      'DATA_VALUE',
      /labels\[1\] is 1, outside the center range 0\.\.0/,
    );
    throwsCode(
      () => inertia(new Float64Array(0), 0, 2, f64([0, 0]), new Int32Array(0)),
      'DATA_EMPTY',
      /no rows/,
    );
    throwsCode(() => inertia(X, 2, 0, f64([0, 0]), i32([0, 0])), 'PARAM_INVALID', /d is 0/);
  });
});

describe('adjustedRandIndex', () => {
  test('hand case: crossed halves score −1/2', () => {
    // a = [0,0,1,1], b = [0,1,0,1]: every contingency cell is 1. Ordered pair counts as in sklearn:
    //   Σn_ij² = 4, Σa_i² = Σb_j² = 8, n = 4 → tp = 4 − 4 = 0, fp = fn = 8 − 4 = 4,
    //   tn = 16 − 4 − 4 − 4 = 4; ARI = 2(0·4 − 4·4) / ((0+4)(4+4) + (0+4)(4+4)) = −32/64
    assert.equal(adjustedRandIndex(i32([0, 0, 1, 1]), i32([0, 1, 0, 1])), -0.5);
  });
  test('degenerate cases match sklearn', () => {
    // sklearn: M.adjusted_rand_score(a, b) for each pair below
    const cases: [number[], number[], number][] = [
      [[0, 0, 0, 0], [1, 1, 1, 1], 1], // one cluster each
      [[0, 1, 2, 3], [3, 2, 1, 0], 1], // all singletons, relabelled
      [[5], [9], 1], // a single sample
      [[0, 0, 0, 0], [0, 1, 2, 3], 0], // one cluster against all singletons
      [[0, 0, 1, 2], [1, 1, 0, 0], 0.5714285714285714],
      [[0, 0, 1, 1], [0, 0, 1, 2], 0.5714285714285714],
    ];
    for (const [a, b, expected] of cases) {
      const got = adjustedRandIndex(i32(a), i32(b));
      if (expected === 0 || expected === 1) assert.equal(got, expected, `${a} vs ${b}`);
      else assertClose(got, expected);
    }
  });
  test('label values do not matter, negative ones included, and the score is symmetric', () => {
    const a = i32([0, 0, 1, 1, 2, 2, 2]);
    const b = i32([1, 1, 0, 0, 0, 2, 2]);
    const ari = adjustedRandIndex(a, b);
    assert.equal(adjustedRandIndex(b, a), ari);
    assert.equal(adjustedRandIndex(i32([-7, -7, 40, 40, -1, -1, -1]), b), ari);
  });
  test('matches sklearn on noisy labelings with negative labels', () => {
    // sklearn: rng = np.random.default_rng(5); a = rng.integers(-1, 4, 50);
    //   b = np.where(rng.random(50) < 0.6, a * 7 + 3, rng.integers(0, 6, 50));
    //   M.adjusted_rand_score(a, b) → 0.36079260379176087
    const a = i32([
      2, 3, -1, 3, 1, 1, 2, 0, 3, -1, 0, 0, 1, 1, -1, -1, -1, -1, -1, 3, -1, 2, 2, 0, 0, 1, 0, 3, -1, 3, 2, 3,
      -1, 0, 2, 1, 2, 2, 2, -1, 3, 1, 3, 0, 0, 3, -1, -1, 0, 2,
    ]);
    const b = i32([
      1, 24, 4, 5, 10, 4, 17, 3, 24, -4, 3, 4, 10, 10, 5, -4, 2, -4, -4, 2, -4, 17, 17, 3, 2, 10, 0, 24, 4,
      24, 2, 24, -4, 5, 3, 5, 17, 17, 1, -4, 3, 1, 24, 4, 3, 24, 4, -4, 2, 0,
    ]);
    assertClose(adjustedRandIndex(a, b), 0.36079260379176087);
  });
  test('mismatched lengths name both lengths; empty input is refused', () => {
    throwsCode(
      () => adjustedRandIndex(i32([0, 1, 2]), i32([0, 1])),
      'DATA_VALUE',
      /a has 3 samples but b has 2/,
    );
    throwsCode(() => adjustedRandIndex(new Int32Array(0), new Int32Array(0)), 'DATA_EMPTY', /empty/);
  });
});
