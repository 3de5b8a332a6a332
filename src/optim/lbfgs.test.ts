import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../data/random.ts';
import { ConvergenceError, ParamError } from '../errors.ts';
import { type LbfgsIteration, minimizeLbfgs, type Objective } from './lbfgs.ts';

/** The n-dimensional Rosenbrock function Σ 100(xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)²; minimum 0 at (1, …, 1). */
const rosenbrock: Objective = (x, g) => {
  let f = 0;
  g.fill(0);
  for (let i = 0; i + 1 < x.length; i++) {
    const a = x[i + 1]! - x[i]! * x[i]!;
    const b = 1 - x[i]!;
    f += 100 * a * a + b * b;
    g[i] = g[i]! - 400 * a * x[i]! - 2 * b;
    g[i + 1] = g[i + 1]! + 200 * a;
  }
  return f;
};

/** The classic start (−1.2, 1, −1.2, 1, …). */
function rosenbrockStart(n: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => (i % 2 === 0 ? -1.2 : 1));
}

function maxAbsDiff(a: Float64Array, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

const TIGHT = { gradientTolerance: 1e-10, relativeFunctionTolerance: 0, maxIterations: 1000 };

for (const n of [2, 10]) {
  test(`Rosenbrock in ${n} dimensions converges to (1, …, 1) within 1e-6`, async () => {
    const result = await minimizeLbfgs(rosenbrock, rosenbrockStart(n), TIGHT);
    assert.equal(result.reason, 'gradient');
    assert.equal(result.converged, true);
    assert.ok(maxAbsDiff(result.x, new Float64Array(n).fill(1)) <= 1e-6, `x = ${result.x}`);
    assert.ok(result.f <= 1e-12);
    // The result's f and gradient belong to its x.
    const g = new Float64Array(n);
    assert.equal(rosenbrock(result.x, g), result.f);
    assert.deepEqual(g, result.gradient);
  });
}

test('Rosenbrock with the default tolerances takes about as many steps as scipy (36 from the classic start)', async () => {
  const result = await minimizeLbfgs(rosenbrock, rosenbrockStart(2));
  assert.ok(result.converged, result.reason);
  assert.ok(result.iterations <= 50, `${result.iterations} iterations`);
  assert.ok(maxAbsDiff(result.x, [1, 1]) <= 1e-4);
});

test('an ill-conditioned quadratic (condition number 1e6) is solved to 1e-8 against the closed form', async () => {
  // f = ½‖B·x − c‖² with B = diag(√λ)·Q, λ from 1 to 1e6 and Q a Householder reflection, so the
  // Hessian BᵀB = Qᵀ·diag(λ)·Q has condition number 1e6, and c = B·x*, so the minimiser is x*.
  // (Written as ½xᵀAx − bᵀx instead, f would carry rounding noise of ε·|f*| ≈ 1e-10, and no line
  // search that compares values of f could resolve x beyond about 1e-5.) Quasi-Newton methods are
  // slow on such problems: scipy's L-BFGS-B (maxcor 10, pgtol 1e-9) needs 5676 iterations here.
  const n = 20;
  const v = Float64Array.from({ length: n }, (_, i) => Math.cos(i + 1));
  const vv = v.reduce((s, e) => s + e * e, 0);
  const B = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const rootLambda = Math.sqrt(10 ** ((6 * i) / (n - 1)));
    for (let j = 0; j < n; j++) B[i * n + j] = rootLambda * ((i === j ? 1 : 0) - (2 * v[i]! * v[j]!) / vv);
  }
  const xStar = Float64Array.from({ length: n }, (_, i) => Math.sin(2 * i + 0.5));
  const c = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) c[i] = c[i]! + B[i * n + j]! * xStar[j]!;
  const r = new Float64Array(n);
  const leastSquares: Objective = (x, g) => {
    let f = 0;
    for (let i = 0; i < n; i++) {
      let bx = 0;
      for (let j = 0; j < n; j++) bx += B[i * n + j]! * x[j]!;
      r[i] = bx - c[i]!;
      f += 0.5 * r[i]! * r[i]!;
    }
    g.fill(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) g[j] = g[j]! + B[i * n + j]! * r[i]!;
    return f;
  };
  const result = await minimizeLbfgs(leastSquares, new Float64Array(n), {
    gradientTolerance: 1e-9,
    relativeFunctionTolerance: 0,
    maxIterations: 20000,
  });
  assert.equal(result.reason, 'gradient');
  assert.ok(result.iterations <= 8000, `${result.iterations} iterations`);
  let err = 0;
  let norm = 0;
  for (let i = 0; i < n; i++) {
    err += (result.x[i]! - xStar[i]!) ** 2;
    norm += xStar[i]! ** 2;
  }
  assert.ok(Math.sqrt(err / norm) <= 1e-8, `relative error ${Math.sqrt(err / norm)}`);
});

test('an async objective gives bit-identical results to the same objective called synchronously', async () => {
  let inFlight = 0;
  const asyncRosenbrock: Objective = async (x, g) => {
    inFlight++;
    assert.equal(inFlight, 1, 'the optimizer never calls the objective twice at once');
    await new Promise((resolve) => setImmediate(resolve));
    const f = rosenbrock(x, g);
    inFlight--;
    return f;
  };
  const sync = await minimizeLbfgs(rosenbrock, rosenbrockStart(10), TIGHT);
  const async = await minimizeLbfgs(asyncRosenbrock, rosenbrockStart(10), TIGHT);
  assert.deepEqual(async, sync);
  const again = await minimizeLbfgs(asyncRosenbrock, rosenbrockStart(10), TIGHT);
  assert.deepEqual(again, async);
});

test('stops with reason max-iterations, reporting each step to onIteration', async () => {
  const seen: LbfgsIteration[] = [];
  const result = await minimizeLbfgs(rosenbrock, rosenbrockStart(2), {
    maxIterations: 5,
    onIteration: (it) => {
      seen.push({ ...it, x: it.x.slice() });
    },
  });
  assert.equal(result.reason, 'max-iterations');
  assert.equal(result.converged, false);
  assert.equal(result.iterations, 5);
  assert.deepEqual(
    seen.map((it) => it.iteration),
    [1, 2, 3, 4, 5],
  );
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.f < seen[i - 1]!.f, 'f decreases at every step');
  const last = seen[4]!;
  assert.equal(last.f, result.f);
  assert.deepEqual(last.x, result.x);
  assert.equal(last.evaluations, result.evaluations);
  assert.equal(last.gradientNorm, Math.max(...result.gradient.map(Math.abs)));
});

test('stops with reason max-evaluations, within the budget', async () => {
  let calls = 0;
  const counted: Objective = (x, g) => {
    calls++;
    return rosenbrock(x, g);
  };
  const result = await minimizeLbfgs(counted, rosenbrockStart(2), { maxEvaluations: 10 });
  assert.equal(result.reason, 'max-evaluations');
  assert.equal(result.evaluations, calls);
  assert.ok(calls <= 10, `${calls} calls`);
  const g = new Float64Array(2);
  assert.equal(rosenbrock(result.x, g), result.f);
});

test('a starting point that is already optimal takes no step', async () => {
  const result = await minimizeLbfgs(rosenbrock, new Float64Array([1, 1]));
  assert.deepEqual(
    { reason: result.reason, iterations: result.iterations, evaluations: result.evaluations },
    { reason: 'gradient', iterations: 0, evaluations: 1 },
  );
});

test('x0 is not modified', async () => {
  const x0 = rosenbrockStart(4);
  await minimizeLbfgs(rosenbrock, x0, { maxIterations: 3 });
  assert.deepEqual(x0, rosenbrockStart(4));
});

test('a non-finite f or gradient at the start is a ConvergenceError naming it', async () => {
  await assert.rejects(
    minimizeLbfgs(() => Number.NaN, new Float64Array(2)),
    (e: unknown) =>
      e instanceof ConvergenceError &&
      e.code === 'CONVERGENCE' &&
      /f = NaN at the starting point/.test(e.message),
  );
  await assert.rejects(
    minimizeLbfgs((_, g) => {
      g[1] = Number.POSITIVE_INFINITY;
      return 3;
    }, new Float64Array(2)),
    (e: unknown) =>
      e instanceof ConvergenceError &&
      /gradient\[1\] is Infinity at the starting point \(f = 3\)/.test(e.message),
  );
  await assert.rejects(
    minimizeLbfgs(rosenbrock, new Float64Array([0, Number.NaN])),
    (e: unknown) => e instanceof ParamError && /x0\[1\] is NaN/.test(e.message),
  );
});

test('non-finite values during the line search shrink the step', async () => {
  // f = −Σ log xᵢ + log(1 − xᵢ) lives on (0, 1)ⁿ with its minimum at 0.5; from 0.9 the first
  // step of length 1 leaves the domain, where the logs give NaN.
  let nonFinite = 0;
  const barrier: Objective = (x, g) => {
    let f = 0;
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      f -= Math.log(v) + Math.log(1 - v);
      g[i] = -1 / v + 1 / (1 - v);
    }
    if (!Number.isFinite(f)) nonFinite++;
    return f;
  };
  const result = await minimizeLbfgs(barrier, new Float64Array([0.9, 0.8]), TIGHT);
  assert.ok(nonFinite > 0, 'the test must actually step out of the domain');
  assert.equal(result.reason, 'gradient');
  assert.ok(maxAbsDiff(result.x, [0.5, 0.5]) <= 1e-9);
});

test('a first step that is far too short is extended until the minimum is bracketed', async () => {
  // From 0 the unit-length first step reaches 1 of the 1000 to the minimum: the search doubles it.
  let calls = 0;
  const far: Objective = (x, g) => {
    calls++;
    g[0] = 2 * (x[0]! - 1000);
    return (x[0]! - 1000) ** 2;
  };
  const result = await minimizeLbfgs(far, new Float64Array(1), TIGHT);
  assert.equal(result.reason, 'gradient');
  assert.ok(Math.abs(result.x[0]! - 1000) <= 1e-10);
  assert.ok(calls <= 20, `${calls} calls`);
});

test('a gradient that points the wrong way ends with reason line-search', async () => {
  const wrong: Objective = (x, g) => {
    g[0] = -2 * x[0]!;
    return x[0]! * x[0]!;
  };
  const result = await minimizeLbfgs(wrong, new Float64Array([1]));
  assert.equal(result.reason, 'line-search');
  assert.equal(result.converged, false);
  assert.deepEqual(result.x, new Float64Array([1]));
});

test('invalid options are refused by name', async () => {
  const x0 = new Float64Array(2);
  await assert.rejects(minimizeLbfgs(rosenbrock, x0, { memory: 0 }), /memory must be an integer ≥ 1, got 0/);
  await assert.rejects(
    minimizeLbfgs(rosenbrock, x0, { maxIterations: 1.5 }),
    /maxIterations must be an integer/,
  );
  await assert.rejects(
    minimizeLbfgs(rosenbrock, x0, { maxEvaluations: 0 }),
    /maxEvaluations must be an integer ≥ 1/,
  );
  await assert.rejects(
    minimizeLbfgs(rosenbrock, x0, { gradientTolerance: -1 }),
    (e: unknown) =>
      e instanceof ParamError && /gradientTolerance must be a finite number ≥ 0, got -1/.test(e.message),
  );
  await assert.rejects(
    minimizeLbfgs(rosenbrock, x0, { relativeFunctionTolerance: Number.NaN }),
    /relativeFunctionTolerance must be a finite number ≥ 0, got NaN/,
  );
});

test('L2-regularised logistic regression reaches a point where the gradient vanishes', async () => {
  // 60 rows, 3 features and a bias; labels from a noisy linear rule, so the classes overlap.
  const rng = new Rng(11);
  const rows = 60;
  const d = 3;
  const X = new Float64Array(rows * d);
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < d; j++) X[i * d + j] = rng.normal();
    const z = 1.5 * X[i * d]! - 2 * X[i * d + 1]! + 0.5 + rng.normal();
    y[i] = z > 0 ? 1 : 0;
  }
  const lambda = 0.1;
  // mean log-loss + (λ/2)‖w‖², w = θ[0..d), bias θ[d] unpenalised.
  const loss: Objective = (theta, g) => {
    g.fill(0);
    let f = 0;
    for (let i = 0; i < rows; i++) {
      let z = theta[d]!;
      for (let j = 0; j < d; j++) z += X[i * d + j]! * theta[j]!;
      f += (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))) - y[i]! * z;
      const r = 1 / (1 + Math.exp(-z)) - y[i]!;
      for (let j = 0; j < d; j++) g[j] = g[j]! + r * X[i * d + j]!;
      g[d] = g[d]! + r;
    }
    f /= rows;
    for (let j = 0; j <= d; j++) g[j] = g[j]! / rows;
    for (let j = 0; j < d; j++) {
      f += 0.5 * lambda * theta[j]! ** 2;
      g[j] = g[j]! + lambda * theta[j]!;
    }
    return f;
  };
  const tight = { gradientTolerance: 1e-10, relativeFunctionTolerance: 0 };
  const result = await minimizeLbfgs(loss, new Float64Array(d + 1), tight);
  assert.equal(result.reason, 'gradient');
  // The loss is strictly convex, so a zero gradient certifies the optimum; recompute it.
  const g = new Float64Array(d + 1);
  loss(result.x, g);
  assert.ok(Math.max(...g.map(Math.abs)) <= 1e-10, `gradient ${g}`);
  // The fitted signs follow the rule that generated the labels.
  assert.ok(result.x[0]! > 0 && result.x[1]! < 0 && result.x[3]! > 0, `θ = ${result.x}`);
  // From another start it reaches the same optimum.
  const other = await minimizeLbfgs(loss, new Float64Array([3, 3, -3, -3]), tight);
  assert.ok(maxAbsDiff(other.x, result.x) <= 1e-8);
});
