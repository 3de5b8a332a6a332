import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../data/random.ts';
import { ConvergenceError, ParamError } from '../errors.ts';
import type { LbfgsIteration, Objective } from './lbfgs.ts';
import { minimizeOwlqn } from './owlqn.ts';

/** ½‖A·x − b‖² and its gradient, A row-major rows×cols. */
function leastSquares(
  A: Float64Array,
  b: Float64Array,
  rows: number,
  cols: number,
): (x: Float64Array, g: Float64Array) => number {
  const r = new Float64Array(rows);
  return (x, g) => {
    let f = 0;
    for (let i = 0; i < rows; i++) {
      let ax = 0;
      for (let j = 0; j < cols; j++) ax += A[i * cols + j]! * x[j]!;
      r[i] = ax - b[i]!;
      f += 0.5 * r[i]! * r[i]!;
    }
    g.fill(0);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) g[j] = g[j]! + A[i * cols + j]! * r[i]!;
    return f;
  };
}

/** The first `cols` columns of the Householder reflection I − 2vvᵀ/vᵀv: orthonormal, AᵀA = I. */
function orthonormalColumns(rows: number, cols: number): Float64Array {
  const v = Float64Array.from({ length: rows }, (_, i) => Math.cos(0.7 * i + 0.3));
  const vv = v.reduce((s, e) => s + e * e, 0);
  const A = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) A[i * cols + j] = (i === j ? 1 : 0) - (2 * v[i]! * v[j]!) / vv;
  }
  return A;
}

const softThreshold = (z: number, t: number): number => Math.sign(z) * Math.max(Math.abs(z) - t, 0);

/**
 * Cyclic coordinate descent for ½‖A·x − b‖² + λ·Σ_{mask} |xⱼ| (Friedman et al. 2010), run until no
 * coordinate moves by more than 1e-15: an independent reference for the lasso optimum.
 */
function lassoByCoordinateDescent(
  A: Float64Array,
  b: Float64Array,
  rows: number,
  cols: number,
  lambda: number,
  mask: Uint8Array,
): Float64Array {
  const x = new Float64Array(cols);
  const r = Float64Array.from(b);
  const norms = new Float64Array(cols);
  for (let j = 0; j < cols; j++) for (let i = 0; i < rows; i++) norms[j]! += A[i * cols + j]! ** 2;
  for (let sweep = 0; sweep < 100000; sweep++) {
    let maxChange = 0;
    for (let j = 0; j < cols; j++) {
      let rho = 0;
      for (let i = 0; i < rows; i++) rho += A[i * cols + j]! * (r[i]! + A[i * cols + j]! * x[j]!);
      const next = mask[j] === 0 ? rho / norms[j]! : softThreshold(rho, lambda) / norms[j]!;
      const delta = next - x[j]!;
      if (delta !== 0) {
        for (let i = 0; i < rows; i++) r[i]! -= A[i * cols + j]! * delta;
        x[j] = next;
      }
      maxChange = Math.max(maxChange, Math.abs(delta));
    }
    if (maxChange <= 1e-15) return x;
  }
  throw new Error('coordinate descent did not converge');
}

const TIGHT = { gradientTolerance: 1e-12, relativeFunctionTolerance: 0, maxIterations: 1000 };

test('orthonormal design: OWL-QN reaches the closed form soft(Aᵀb, λ), with exact zeros and a free coordinate', async () => {
  // With AᵀA = I the problem separates: xⱼ* = soft(aⱼᵀb, λ) for penalised j and aⱼᵀb for free j.
  const rows = 12;
  const cols = 6;
  const A = orthonormalColumns(rows, cols);
  const b = Float64Array.from({ length: rows }, (_, i) => 2 * Math.sin(1.3 * i + 0.5));
  const lambda = 0.8;
  const mask = Uint8Array.from([1, 1, 0, 1, 1, 1]);
  const atb = new Float64Array(cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) atb[j]! += A[i * cols + j]! * b[i]!;
  const expected = Float64Array.from(atb, (z, j) => (mask[j] === 0 ? z : softThreshold(z, lambda)));
  const zeros = [...expected.keys()].filter((j) => expected[j] === 0);
  assert.deepEqual(zeros, [0, 4], `the problem must mix zeros and non-zeros: ${expected}`);
  // The free coordinate is below λ in size: penalised, it would be zero.
  assert.ok(Math.abs(atb[2]!) < lambda && expected[2] !== 0);

  const result = await minimizeOwlqn(
    leastSquares(A, b, rows, cols),
    new Float64Array(cols),
    { strength: lambda, mask },
    TIGHT,
  );
  assert.equal(result.reason, 'gradient');
  assert.equal(result.converged, true);
  for (let j = 0; j < cols; j++) {
    if (expected[j] === 0) assert.equal(result.x[j], 0, `x[${j}] must be exactly 0, got ${result.x[j]}`);
    else
      assert.ok(Math.abs(result.x[j]! - expected[j]!) <= 1e-10, `x[${j}] = ${result.x[j]} vs ${expected[j]}`);
  }
  // F(x) is reported with the L1 term, and ◇F(x) = 0 at the optimum.
  const g = new Float64Array(cols);
  let l1 = 0;
  for (let j = 0; j < cols; j++) if (mask[j] === 1) l1 += Math.abs(result.x[j]!);
  assert.equal(result.f, leastSquares(A, b, rows, cols)(result.x, g) + lambda * l1);
  assert.ok(Math.max(...result.pseudoGradient.map(Math.abs)) <= 1e-12);
});

test('correlated design: OWL-QN agrees with coordinate descent to 1e-7, zero pattern included', async () => {
  // 40 rows, 10 features sharing a common factor (pairwise correlation ≈ 0.5); y depends on 3.
  // F* is 19 or 125 here, so F carries rounding noise of ~1e-14; a line search that compares
  // values of F stops once a step's decrease drowns in it: ½δᵀHδ ≈ 1e-14 leaves x within ~2e-8.
  const rng = new Rng(5);
  const rows = 40;
  const cols = 10;
  const A = new Float64Array(rows * cols);
  const b = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const common = rng.normal();
    for (let j = 0; j < cols; j++) A[i * cols + j] = common + rng.normal();
    b[i] = 3 * A[i * cols]! - 2 * A[i * cols + 3]! + 1.5 * A[i * cols + 7]! + 0.5 * rng.normal();
  }
  const mask = new Uint8Array(cols).fill(1);
  for (const lambda of [2, 20]) {
    const expected = lassoByCoordinateDescent(A, b, rows, cols, lambda, mask);
    const zeros = expected.filter((v) => v === 0).length;
    assert.ok(zeros >= 3 && zeros < cols, `λ = ${lambda}: ${zeros} zeros`);
    const result = await minimizeOwlqn(
      leastSquares(A, b, rows, cols),
      new Float64Array(cols),
      { strength: lambda },
      TIGHT,
    );
    assert.ok(result.converged, result.reason);
    for (let j = 0; j < cols; j++) {
      if (expected[j] === 0)
        assert.equal(result.x[j], 0, `λ = ${lambda}: x[${j}] = ${result.x[j]} must be 0`);
      else
        assert.ok(
          Math.abs(result.x[j]! - expected[j]!) <= 1e-7,
          `λ = ${lambda}: x[${j}] = ${result.x[j]} vs ${expected[j]}`,
        );
    }
  }
});

test('λ = 0 is plain smooth minimisation: least squares to its normal-equation solution', async () => {
  // Orthonormal columns make the least-squares solution Aᵀb exactly.
  const A = orthonormalColumns(8, 4);
  const b = Float64Array.from({ length: 8 }, (_, i) => i - 3.5);
  const atb = new Float64Array(4);
  for (let i = 0; i < 8; i++) for (let j = 0; j < 4; j++) atb[j]! += A[i * 4 + j]! * b[i]!;
  const result = await minimizeOwlqn(leastSquares(A, b, 8, 4), new Float64Array(4), { strength: 0 }, TIGHT);
  assert.equal(result.reason, 'gradient');
  for (let j = 0; j < 4; j++) assert.ok(Math.abs(result.x[j]! - atb[j]!) <= 1e-12);
});

test('an async objective gives bit-identical results to the same objective called synchronously', async () => {
  const rng = new Rng(9);
  const A = Float64Array.from({ length: 30 * 6 }, () => rng.normal());
  const b = Float64Array.from({ length: 30 }, () => rng.normal());
  const sync = leastSquares(A, b, 30, 6);
  let inFlight = 0;
  const async: Objective = async (x, g) => {
    inFlight++;
    assert.equal(inFlight, 1, 'the optimizer never calls the objective twice at once');
    await new Promise((resolve) => setImmediate(resolve));
    const f = sync(x, g);
    inFlight--;
    return f;
  };
  const l1 = { strength: 3, mask: Uint8Array.from([0, 1, 1, 1, 1, 1]) };
  const a = await minimizeOwlqn(sync, new Float64Array(6), l1, TIGHT);
  const b2 = await minimizeOwlqn(async, new Float64Array(6), l1, TIGHT);
  assert.deepEqual(b2, a);
  assert.ok(
    a.x.some((v) => v === 0),
    'the test needs some exact zeros',
  );
});

test('stops with reason max-iterations, reporting each step; F never rises and x0 is kept', async () => {
  const A = orthonormalColumns(10, 5);
  const b = Float64Array.from({ length: 10 }, (_, i) => Math.cos(i));
  // A start far from the optimum, with a coordinate that must cross zero.
  const x0 = Float64Array.from([5, -5, 5, -5, 5]);
  const seen: LbfgsIteration[] = [];
  const result = await minimizeOwlqn(
    leastSquares(A, b, 10, 5),
    x0,
    { strength: 0.3 },
    { maxIterations: 2, onIteration: (it) => void seen.push({ ...it, x: it.x.slice() }) },
  );
  assert.equal(result.reason, 'max-iterations');
  assert.equal(result.converged, false);
  assert.deepEqual(
    seen.map((it) => it.iteration),
    [1, 2],
  );
  assert.ok(seen[1]!.f <= seen[0]!.f);
  assert.deepEqual(seen[1]!.x, result.x);
  assert.equal(seen[1]!.f, result.f);
  assert.equal(seen[1]!.gradientNorm, Math.max(...result.pseudoGradient.map(Math.abs)));
  assert.deepEqual(x0, Float64Array.from([5, -5, 5, -5, 5]));
});

test('a starting point that is already optimal takes no step', async () => {
  // f = ½x² at x = 0: ◇F = 0 for any λ ≥ 0.
  const result = await minimizeOwlqn(
    (x, g) => {
      g[0] = x[0]!;
      return 0.5 * x[0]! ** 2;
    },
    new Float64Array(1),
    { strength: 1 },
  );
  assert.deepEqual(
    { reason: result.reason, iterations: result.iterations, evaluations: result.evaluations },
    { reason: 'gradient', iterations: 0, evaluations: 1 },
  );
});

test('bad inputs are refused by name', async () => {
  const f: Objective = (x, g) => {
    g.set(x);
    return 0.5 * x.reduce((s, v) => s + v * v, 0);
  };
  const x0 = new Float64Array(2);
  await assert.rejects(
    minimizeOwlqn(f, x0, { strength: -1 }),
    (e: unknown) =>
      e instanceof ParamError && /L1 strength must be a finite number ≥ 0, got -1/.test(e.message),
  );
  await assert.rejects(
    minimizeOwlqn(f, x0, { strength: 1, mask: new Uint8Array(3) }),
    /the L1 mask has 3 entries for 2 parameters/,
  );
  await assert.rejects(
    minimizeOwlqn(f, x0, { strength: 1 }, { memory: 0 }),
    /memory must be an integer ≥ 1, got 0/,
  );
  await assert.rejects(
    minimizeOwlqn(f, Float64Array.from([0, Number.NaN]), { strength: 1 }),
    /x0\[1\] is NaN/,
  );
  await assert.rejects(
    minimizeOwlqn(() => Number.NaN, x0, { strength: 1 }),
    (e: unknown) => e instanceof ConvergenceError && /f = NaN at the starting point/.test(e.message),
  );
});
