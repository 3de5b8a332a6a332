import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ParamError } from '../errors.ts';
import type { Frame } from './frame.ts';
import { generate, makeBlobs, makeClassification, makeRegression } from './generate.ts';

function values(frame: Frame, name: string): Float64Array {
  const c = frame.column(name);
  assert.equal(c.kind, 'number');
  return c.kind === 'number' ? c.values : new Float64Array();
}

function meanStd(x: ArrayLike<number>): { mean: number; std: number } {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  const mean = s / x.length;
  let v = 0;
  for (let i = 0; i < x.length; i++) v += (x[i]! - mean) ** 2;
  return { mean, std: Math.sqrt(v / x.length) };
}

/** Solves the small dense system A·x = b by Gaussian elimination with partial pivoting. */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[piv]![c]!)) piv = r;
    [M[c], M[piv]] = [M[piv]!, M[c]!];
    for (let r = c + 1; r < n; r++) {
      const f = M[r]![c]! / M[c]![c]!;
      for (let j = c; j <= n; j++) M[r]![j] = M[r]![j]! - f * M[c]![j]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r]![n]!;
    for (let j = r + 1; j < n; j++) s -= M[r]![j]! * x[j]!;
    x[r] = s / M[r]![r]!;
  }
  return x;
}

test('classification: columns x0..x{d-1} then label, labels 0..k-1', () => {
  const { frame, informative, redundant } = makeClassification({
    rows: 300,
    features: 7,
    classes: 3,
    seed: 1,
  });
  assert.deepEqual(frame.names, ['x0', 'x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'label']);
  assert.equal(frame.rows, 300);
  assert.equal(informative, 4);
  assert.equal(redundant, 1);
  for (const v of values(frame, 'label')) assert.ok(v === 0 || v === 1 || v === 2);
});

test('classification: same seed gives identical columns, another seed differs', () => {
  const a = makeClassification({ rows: 500, features: 6, seed: 42 });
  const b = makeClassification({ rows: 500, features: 6, seed: 42 });
  const c = makeClassification({ rows: 500, features: 6, seed: 43 });
  for (const name of a.frame.names) assert.deepEqual(values(b.frame, name), values(a.frame, name));
  assert.deepEqual(b.centroids, a.centroids);
  assert.notDeepEqual(values(c.frame, 'x0'), values(a.frame, 'x0'));
  assert.notDeepEqual(values(c.frame, 'label'), values(a.frame, 'label'));
});

test('classification: centroids 2·classSeparation apart and centred; features have the expected moments', () => {
  const k = 3;
  const sep = 1.5;
  const {
    frame,
    centroids,
    informative: p,
  } = makeClassification({
    rows: 60_000,
    features: 8,
    classes: k,
    classSeparation: sep,
    labelNoise: 0,
    seed: 5,
  });
  for (let a = 0; a < k; a++) {
    for (let b = a + 1; b < k; b++) {
      let d2 = 0;
      for (let j = 0; j < p; j++) d2 += (centroids[a * p + j]! - centroids[b * p + j]!) ** 2;
      assert.ok(Math.abs(Math.sqrt(d2) - 2 * sep) < 1e-9, `distance ${a}-${b}: ${Math.sqrt(d2)}`);
    }
  }
  const label = values(frame, 'label');
  const counts = [0, 0, 0];
  for (const v of label) counts[v]!++;
  assert.deepEqual(counts, [20_000, 20_000, 20_000]);
  // Within a class an informative feature is its centroid plus N(0, 1); σ of the mean ≈ 0.007.
  for (let j = 0; j < p; j++) {
    const x = values(frame, `x${j}`);
    for (let c = 0; c < k; c++) {
      const own = x.filter((_, i) => label[i] === c);
      const m = meanStd(own);
      assert.ok(Math.abs(m.mean - centroids[c * p + j]!) < 0.04, `x${j} class ${c} mean ${m.mean}`);
      assert.ok(Math.abs(m.std - 1) < 0.03, `x${j} class ${c} std ${m.std}`);
    }
    assert.ok(Math.abs(meanStd(x).mean) < 0.03);
  }
  // The last feature (8 - 4 informative - 2 redundant) is pure N(0, 1) noise.
  const noise = meanStd(values(frame, 'x7'));
  assert.ok(Math.abs(noise.mean) < 0.03 && Math.abs(noise.std - 1) < 0.02, JSON.stringify(noise));
});

test('classification: label noise flips about labelNoise·(k-1)/k of the labels', () => {
  const clean = makeClassification({ rows: 50_000, features: 4, labelNoise: 0, seed: 9 });
  const noisy = makeClassification({ rows: 50_000, features: 4, labelNoise: 0.2, seed: 9 });
  assert.deepEqual(values(noisy.frame, 'x0'), values(clean.frame, 'x0'));
  const a = values(clean.frame, 'label');
  const b = values(noisy.frame, 'label');
  let changed = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) changed++;
  // Expected 0.1 of rows; σ ≈ 0.0013.
  assert.ok(Math.abs(changed / a.length - 0.1) < 0.007, `changed ${changed / a.length}`);
});

test('classification: a linear model learns it well but not perfectly', () => {
  // Nearest class mean, fitted on the first half and scored on the second, is a linear rule.
  const { frame } = makeClassification({ rows: 20_000, features: 10, seed: 3 });
  const d = 10;
  const half = 10_000;
  const label = values(frame, 'label');
  const X = Array.from({ length: d }, (_, j) => values(frame, `x${j}`));
  const means = [new Float64Array(d), new Float64Array(d)];
  const counts = [0, 0];
  for (let i = 0; i < half; i++) {
    const c = label[i]!;
    counts[c]!++;
    for (let j = 0; j < d; j++) means[c]![j] = means[c]![j]! + X[j]![i]!;
  }
  for (let c = 0; c < 2; c++) for (let j = 0; j < d; j++) means[c]![j] = means[c]![j]! / counts[c]!;
  let correct = 0;
  for (let i = half; i < 2 * half; i++) {
    let d0 = 0;
    let d1 = 0;
    for (let j = 0; j < d; j++) {
      d0 += (X[j]![i]! - means[0]![j]!) ** 2;
      d1 += (X[j]![i]! - means[1]![j]!) ** 2;
    }
    if ((d1 < d0 ? 1 : 0) === label[i]) correct++;
  }
  // Bayes accuracy at classSeparation 1 is Φ(1) ≈ 0.84, less half the 1% label noise.
  const accuracy = correct / half;
  assert.ok(accuracy > 0.78 && accuracy < 0.9, `accuracy ${accuracy}`);
});

test('classification: more classes than informative features still separates neighbours by 2·sep', () => {
  const { centroids, informative } = makeClassification({ rows: 10, features: 1, classes: 4, seed: 2 });
  assert.equal(informative, 1);
  const sorted = [...centroids].sort((a, b) => a - b);
  for (let a = 1; a < 4; a++) assert.ok(Math.abs(sorted[a]! - sorted[a - 1]! - 2) < 1e-9);
});

test('regression: coefficients are recovered by least squares', () => {
  const d = 5;
  const { frame, coefficients, bias } = makeRegression({
    rows: 4000,
    features: d,
    informative: 3,
    noise: 0.1,
    bias: 2.5,
    seed: 11,
  });
  assert.equal(bias, 2.5);
  assert.deepEqual(frame.names, ['x0', 'x1', 'x2', 'x3', 'x4', 'target']);
  for (let j = 0; j < 3; j++) assert.ok(Math.abs(coefficients[j]!) >= 0.5 && Math.abs(coefficients[j]!) < 2);
  assert.equal(coefficients[3], 0);
  assert.equal(coefficients[4], 0);
  // Normal equations with an intercept column; the standard error of each coefficient is ≈ 0.0016.
  const cols = [
    ...Array.from({ length: d }, (_, j) => values(frame, `x${j}`)),
    new Float64Array(4000).fill(1),
  ];
  const y = values(frame, 'target');
  const A = cols.map((a) => cols.map((b) => a.reduce((s, v, i) => s + v * b[i]!, 0)));
  const rhs = cols.map((a) => a.reduce((s, v, i) => s + v * y[i]!, 0));
  const w = solve(A, rhs);
  for (let j = 0; j < d; j++)
    assert.ok(Math.abs(w[j]! - coefficients[j]!) < 0.01, `w${j} ${w[j]} vs ${coefficients[j]}`);
  assert.ok(Math.abs(w[d]! - 2.5) < 0.01, `bias ${w[d]}`);
  const residual = new Float64Array(4000);
  for (let i = 0; i < 4000; i++) {
    let p = bias;
    for (let j = 0; j < d; j++) p += coefficients[j]! * cols[j]![i]!;
    residual[i] = y[i]! - p;
  }
  const r = meanStd(residual);
  assert.ok(Math.abs(r.std - 0.1) < 0.005, `noise std ${r.std}`);
  const x0 = meanStd(cols[0]!);
  assert.ok(Math.abs(x0.mean) < 0.05 && Math.abs(x0.std - 1) < 0.04, JSON.stringify(x0));
});

test('regression: deterministic per seed', () => {
  const a = makeRegression({ rows: 200, features: 3, seed: 1 });
  const b = makeRegression({ rows: 200, features: 3, seed: 1 });
  const c = makeRegression({ rows: 200, features: 3, seed: 2 });
  assert.deepEqual(values(b.frame, 'target'), values(a.frame, 'target'));
  assert.deepEqual(b.coefficients, a.coefficients);
  assert.notDeepEqual(c.coefficients, a.coefficients);
});

test('blobs: balanced clusters around centers in [-10, 10) with clusterStd spread', () => {
  const { frame, centers } = makeBlobs({ rows: 30_001, features: 2, centers: 3, clusterStd: 0.5, seed: 4 });
  assert.deepEqual(frame.names, ['x0', 'x1', 'cluster']);
  for (const c of centers) assert.ok(c >= -10 && c < 10);
  const cluster = values(frame, 'cluster');
  const counts = [0, 0, 0];
  for (const v of cluster) counts[v]!++;
  assert.deepEqual(counts, [10_001, 10_000, 10_000]);
  for (let j = 0; j < 2; j++) {
    const x = values(frame, `x${j}`);
    for (let c = 0; c < 3; c++) {
      const m = meanStd(x.filter((_, i) => cluster[i] === c));
      assert.ok(Math.abs(m.mean - centers[c * 2 + j]!) < 0.02, `x${j} cluster ${c} mean ${m.mean}`);
      assert.ok(Math.abs(m.std - 0.5) < 0.015, `x${j} cluster ${c} std ${m.std}`);
    }
  }
  const again = makeBlobs({ rows: 30_001, features: 2, centers: 3, clusterStd: 0.5, seed: 4 });
  assert.deepEqual(values(again.frame, 'x1'), values(frame, 'x1'));
});

test('generate dispatches on kind', () => {
  assert.deepEqual(generate('classification', { rows: 5, features: 2, seed: 1 }).names, [
    'x0',
    'x1',
    'label',
  ]);
  assert.deepEqual(generate('regression', { rows: 5, features: 2, seed: 1 }).names, ['x0', 'x1', 'target']);
  assert.deepEqual(generate('blobs', { rows: 5, features: 2, seed: 1 }).names, ['x0', 'x1', 'cluster']);
  assert.deepEqual(
    values(generate('blobs', { rows: 50, features: 2, seed: 7 }), 'x0'),
    values(makeBlobs({ rows: 50, features: 2, seed: 7 }).frame, 'x0'),
  );
});

test('bad options are refused by name with the value', () => {
  const cases: [() => unknown, string][] = [
    [
      () => generate('classification', { rows: -3, features: 2, seed: 1 }),
      '--rows must be a positive integer, got -3',
    ],
    [
      () => generate('regression', { rows: 10, features: 1.5, seed: 1 }),
      '--features must be a positive integer, got 1.5',
    ],
    [
      () => makeClassification({ rows: 10, features: 2, classes: 1, seed: 1 }),
      '--classes must be an integer of at least 2, got 1',
    ],
    [
      () => makeClassification({ rows: 10, features: 2, informative: 3, seed: 1 }),
      '--informative must be an integer from 1 to --features (2), got 3',
    ],
    [
      () => makeClassification({ rows: 10, features: 2, labelNoise: 2, seed: 1 }),
      '--label-noise must be a number from 0 to 1, got 2',
    ],
    [
      () => makeClassification({ rows: 10, features: 2, classSeparation: Number.NaN, seed: 1 }),
      '--class-separation must be a finite number of at least 0, got NaN',
    ],
    [
      () => makeRegression({ rows: 10, features: 2, noise: -1, seed: 1 }),
      '--noise must be a finite number of at least 0, got -1',
    ],
    [
      () => makeRegression({ rows: 10, features: 2, bias: Number.POSITIVE_INFINITY, seed: 1 }),
      '--bias must be a finite number, got Infinity',
    ],
    [
      () => makeBlobs({ rows: 10, features: 2, centers: 0, seed: 1 }),
      '--centers must be an integer of at least 1, got 0',
    ],
    [
      () => makeBlobs({ rows: 10, features: 2, clusterStd: -0.5, seed: 1 }),
      '--cluster-std must be a finite number of at least 0, got -0.5',
    ],
    [() => makeBlobs({ rows: 10, features: 2, seed: 0.5 }), '--seed must be an integer, got 0.5'],
  ];
  for (const [fn, message] of cases)
    assert.throws(fn, (e: unknown) => e instanceof ParamError && e.message === message);
  assert.throws(
    () => generate('blob' as 'blobs', { rows: 10, features: 2, seed: 1 }),
    (e: unknown) =>
      e instanceof ParamError &&
      e.message ===
        "unknown generator 'blob' (expected classification, regression, blobs) (did you mean 'blobs'?)",
  );
});
