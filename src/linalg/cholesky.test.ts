import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DataValueError } from '../errors.ts';
import {
  cholesky,
  choleskyFailedPivot,
  choleskySolve,
  solveLower,
  solveSymmetric,
  solveUpperTransposed,
} from './cholesky.ts';

type Gen = fc.GeneratorValue;

function randomArray(g: Gen, length: number): Float64Array {
  const a = new Float64Array(length);
  for (let i = 0; i < length; i++) a[i] = g(fc.double, { min: -1, max: 1, noNaN: true });
  return a;
}

/** A = BᵀB + I for a random `d × d` B: symmetric, eigenvalues in [1, d + 1], so well conditioned. */
function randomSpd(g: Gen, d: number): Float64Array {
  const B = randomArray(g, d * d);
  const A = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    for (let k = 0; k < d; k++) {
      let s = j === k ? 1 : 0;
      for (let i = 0; i < d; i++) s += B[i * d + j]! * B[i * d + k]!;
      A[j * d + k] = s;
    }
  }
  return A;
}

function matVec(A: Float64Array, d: number, x: Float64Array): Float64Array {
  const y = new Float64Array(d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) y[i] = y[i]! + A[i * d + j]! * x[j]!;
  return y;
}

function relativeError(actual: Float64Array, expected: Float64Array): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < expected.length; i++) {
    diff += (actual[i]! - expected[i]!) ** 2;
    norm += expected[i]! ** 2;
  }
  return norm === 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
}

test('cholesky leaves L with L·Lᵀ = A in the lower triangle and does not touch the upper one', () => {
  fc.assert(
    fc.property(fc.gen(), (g) => {
      const d = g(fc.integer, { min: 0, max: 17 });
      const A = randomSpd(g, d);
      const F = A.slice();
      for (let j = 0; j < d; j++) for (let k = j + 1; k < d; k++) F[j * d + k] = Number.NaN;
      assert.equal(choleskyFailedPivot(F, d), -1);
      for (let j = 0; j < d; j++) {
        for (let k = 0; k < d; k++) {
          if (k > j) {
            assert.ok(Number.isNaN(F[j * d + k]!), `upper entry (${j}, ${k}) was written`);
            continue;
          }
          let s = 0;
          for (let t = 0; t <= k; t++) s += F[j * d + t]! * F[k * d + t]!;
          assert.ok(Math.abs(s - A[j * d + k]!) <= 1e-13 * (d + 1), `(L·Lᵀ)[${j}, ${k}] = ${s}`);
        }
      }
    }),
  );
});

test('choleskySolve solves random SPD systems to 1e-10 relative, on subarray views', () => {
  fc.assert(
    fc.property(fc.gen(), (g) => {
      const d = g(fc.integer, { min: 0, max: 23 });
      const A = randomSpd(g, d);
      const xTrue = randomArray(g, d);
      const b = matVec(A, d, xTrue);
      // The factor and the right-hand side sit at offsets inside larger buffers.
      const lBuffer = new Float64Array(d * d + 7);
      const L = lBuffer.subarray(3, 3 + d * d);
      L.set(A);
      const bBuffer = new Float64Array(d + 4);
      const x = bBuffer.subarray(2, 2 + d);
      x.set(b);
      assert.equal(cholesky(L, d), true);
      assert.equal(choleskySolve(L, d, x), x);
      assert.ok(relativeError(x, xTrue) <= 1e-10, `relative error ${relativeError(x, xTrue)} at d=${d}`);
      assert.deepEqual([...lBuffer.subarray(0, 3), ...lBuffer.subarray(3 + d * d)], [0, 0, 0, 0, 0, 0, 0]);
      assert.deepEqual([...bBuffer.subarray(0, 2), ...bBuffer.subarray(2 + d)], [0, 0, 0, 0]);
    }),
  );
});

test('solveLower and solveUpperTransposed invert L and Lᵀ', () => {
  fc.assert(
    fc.property(fc.gen(), (g) => {
      const d = g(fc.integer, { min: 0, max: 15 });
      const L = randomArray(g, d * d);
      // A unit-ish diagonal keeps the triangular systems well conditioned; the upper triangle is
      // garbage that both solves must ignore.
      for (let i = 0; i < d; i++) L[i * d + i] = 2 + Math.abs(L[i * d + i]!);
      const xTrue = randomArray(g, d);
      const lower = new Float64Array(d);
      const upper = new Float64Array(d);
      for (let i = 0; i < d; i++) {
        for (let j = 0; j <= i; j++) lower[i] = lower[i]! + L[i * d + j]! * xTrue[j]!;
        for (let j = i; j < d; j++) upper[i] = upper[i]! + L[j * d + i]! * xTrue[j]!;
      }
      assert.ok(relativeError(solveLower(L, d, lower), xTrue) <= 1e-12);
      assert.ok(relativeError(solveUpperTransposed(L, d, upper), xTrue) <= 1e-12);
    }),
  );
});

test('cholesky reports the first pivot that is not positive', () => {
  fc.assert(
    fc.property(fc.gen(), (g) => {
      const d = g(fc.integer, { min: 1, max: 12 });
      const k = g(fc.integer, { min: 0, max: d - 1 });
      const A = randomSpd(g, d);
      // Pushing one diagonal entry below zero makes that pivot negative, while the leading k × k
      // block stays positive definite.
      let trace = 0;
      for (let i = 0; i < d; i++) trace += A[i * d + i]!;
      A[k * d + k] = A[k * d + k]! - trace - 1;
      const F = A.slice();
      assert.equal(choleskyFailedPivot(F, d), k);
      assert.ok(F[k * d + k]! < 0, 'the failing pivot value is left on the diagonal');
      assert.equal(cholesky(A.slice(), d), false);
    }),
  );
});

test('a NaN in the matrix fails the factorisation instead of producing NaN factors', () => {
  const A = new Float64Array([4, 0, 0, Number.NaN, 5, 0, 1, 2, 6]);
  assert.equal(choleskyFailedPivot(A, 3), 1);
});

test('exactly collinear columns are caught with a relative tolerance', () => {
  // Column 2 = column 0 + column 1: XᵀX is singular, though rounding may leave a tiny positive pivot.
  const n = 40;
  const X = new Float64Array(n * 3);
  for (let i = 0; i < n; i++) {
    X[i * 3] = Math.sin(i);
    X[i * 3 + 1] = Math.cos(3 * i) + 0.1;
    X[i * 3 + 2] = X[i * 3]! + X[i * 3 + 1]!;
  }
  const gram = new Float64Array(9);
  for (let j = 0; j < 3; j++) {
    for (let k = 0; k < 3; k++) for (let i = 0; i < n; i++) gram[j * 3 + k]! += X[i * 3 + j]! * X[i * 3 + k]!;
  }
  assert.equal(choleskyFailedPivot(gram.slice(), 3, 1e-12), 2);
  assert.throws(
    () => solveSymmetric(gram, 3, new Float64Array(3), { relativeTolerance: 1e-12 }),
    (e: unknown) =>
      e instanceof DataValueError &&
      e.code === 'DATA_VALUE' &&
      /the 3 × 3 matrix \(ridge 0\) is not positive definite: Cholesky pivot 2 is /.test(e.message) &&
      /column 2 is a linear combination/.test(e.message),
  );
  // A ridge makes the same system solvable.
  const x = solveSymmetric(gram, 3, new Float64Array([1, 2, 3]), { ridge: 1e-3, relativeTolerance: 1e-12 });
  assert.ok(x.every(Number.isFinite));
});

test('solveSymmetric copies its inputs, applies the ridge and reads only the lower triangle', () => {
  fc.assert(
    fc.property(fc.gen(), (g) => {
      const d = g(fc.integer, { min: 0, max: 12 });
      const ridge = g(fc.constantFrom, 0, 0.5, 3);
      const A = randomSpd(g, d);
      const xTrue = randomArray(g, d);
      const b = matVec(A, d, xTrue);
      for (let i = 0; i < d; i++) b[i] = b[i]! + ridge * xTrue[i]!;
      const input = A.slice();
      for (let j = 0; j < d; j++) for (let k = j + 1; k < d; k++) input[j * d + k] = Number.NaN;
      const inputCopy = input.slice();
      const bCopy = b.slice();
      const x = solveSymmetric(input, d, b, { ridge });
      assert.ok(relativeError(x, xTrue) <= 1e-10);
      assert.deepEqual(input, inputCopy);
      assert.deepEqual(b, bCopy);
    }),
  );
});

test('solveSymmetric refuses a negative or non-finite ridge and short arrays', () => {
  const A = new Float64Array([2, 0, 0, 2]);
  const b = new Float64Array([1, 1]);
  assert.throws(() => solveSymmetric(A, 2, b, { ridge: -1 }), /ridge must be a finite number ≥ 0, got -1/);
  assert.throws(() => solveSymmetric(A, 2, b, { ridge: Number.NaN }), /got NaN/);
  assert.throws(() => solveSymmetric(A, 3, b), /solveSymmetric A: span \[0, 9\)/);
  assert.throws(() => choleskySolve(A, 2, new Float64Array(1)), /solveLower b/);
});
