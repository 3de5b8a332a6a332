import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gramCoordinateDescent } from './gram-coordinate-descent.ts';

test('on a diagonal Gram matrix the soft-thresholded correlation is exact after one sweep', () => {
  // Orthogonal columns decouple the coordinates: w_j = S(q_j, l1) / (G_jj + l2) in closed form.
  const G = Float64Array.of(4, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9);
  const q = Float64Array.of(10, -1, 0, -30);
  const l1 = 2;
  const l2 = 1;
  const result = gramCoordinateDescent(G, q, 500, 4, { l1, l2, maxIter: 100, tol: 1e-10 });
  // Column 2 is all zeros (G_22 = q_2 = 0, a constant feature once centred): skipped, left at 0.
  assert.deepEqual(Array.from(result.coef), [(10 - 2) / 5, 0, 0, (-30 + 2) / 10]);
  // The second sweep changes nothing, which triggers the gap test; the optimum has no gap.
  assert.equal(result.sweeps, 2);
  assert.equal(result.converged, true);
  assert.ok(Math.abs(result.gap) < 1e-12, `gap ${result.gap}`);
});

test('a correlated problem converges to the point where the optimality conditions hold', () => {
  // G = XᵀX for a 3-feature X with strongly correlated columns.
  const G = Float64Array.of(10, 9, 1, 9, 10, 2, 1, 2, 5);
  const q = Float64Array.of(12, 11, -4);
  const l1 = 0.5;
  const l2 = 0.25;
  const result = gramCoordinateDescent(G, q, 100, 3, { l1, l2, maxIter: 10000, tol: 1e-12 });
  assert.equal(result.converged, true);
  assert.ok(result.gap >= -1e-9 && result.gap <= result.gapTolerance, `gap ${result.gap}`);
  const w = result.coef;
  for (let j = 0; j < 3; j++) {
    // KKT: q_j − (Gw)_j − l2·w_j = l1·sign(w_j) where w_j ≠ 0, and lies within ±l1 where w_j = 0.
    let gw = 0;
    for (let k = 0; k < 3; k++) gw += G[j * 3 + k]! * w[k]!;
    const c = q[j]! - gw - l2 * w[j]!;
    if (w[j] === 0) assert.ok(Math.abs(c) <= l1 + 1e-9, `coordinate ${j}: |${c}| > l1`);
    else assert.ok(Math.abs(c - l1 * Math.sign(w[j]!)) < 1e-8, `coordinate ${j}: ${c}`);
  }
});

test('a penalty above max |q| keeps every coefficient at zero and stops after one sweep', () => {
  const G = Float64Array.of(2, 1, 1, 2);
  const q = Float64Array.of(3, -2);
  const result = gramCoordinateDescent(G, q, 20, 2, { l1: 3, l2: 0, maxIter: 50, tol: 1e-4 });
  assert.deepEqual(Array.from(result.coef), [0, 0]);
  assert.equal(result.sweeps, 1);
  assert.equal(result.converged, true);
  assert.equal(result.objective, 10);
});

test('maxIter bounds the sweeps and the result says it did not converge', () => {
  const G = Float64Array.of(10, 9.9, 9.9, 10);
  const q = Float64Array.of(5, 4);
  const result = gramCoordinateDescent(G, q, 10, 2, { l1: 0.01, l2: 0, maxIter: 3, tol: 1e-12 });
  assert.equal(result.sweeps, 3);
  assert.equal(result.converged, false);
  assert.ok(result.gap > result.gapTolerance);
});
