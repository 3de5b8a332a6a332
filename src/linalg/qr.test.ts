import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { solveSymmetric } from './cholesky.ts';
import {
  applyQ,
  applyQt,
  defaultRcond,
  householderQr,
  leastSquares,
  pivotedQr,
  qrStackRows,
  solveUpper,
} from './qr.ts';

// The factorisations are checked against naive dense arithmetic: explicit reflector matrices,
// products of the factors, and closed-form pseudo-inverses of systems built to have a known rank.
// Tolerances are relative to the size of the numbers involved, 1e-12 for backward-stable steps and
// looser where a closed form squares a (bounded) condition number.

type Gen = fc.GeneratorValue;

function randomMatrix(g: Gen, m: number, n: number, scale = 1): Float64Array {
  const a = new Float64Array(m * n);
  for (let i = 0; i < a.length; i++) a[i] = scale * g(fc.double, { min: -1, max: 1, noNaN: true });
  return a;
}

/**
 * Like {@link randomMatrix}, with entries below 1e-8 in magnitude flushed to zero. Products B·C of
 * such factors stay far from the subnormal range, where rounding is absolute instead of relative: a
 * column of B·C built from subnormal entries carries rounding errors as large as itself, so once
 * scaled to unit norm (as leastSquares does to decide rank) it is no longer of rank r at all.
 */
function randomFactor(g: Gen, m: number, n: number): Float64Array {
  const a = randomMatrix(g, m, n);
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i]!) < 1e-8) a[i] = 0;
  return a;
}

/** C = A·B for row-major `m × k` A and `k × n` B. */
function matMul(A: Float64Array, B: Float64Array, m: number, k: number, n: number): Float64Array {
  const C = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let t = 0; t < k; t++) for (let j = 0; j < n; j++) C[i * n + j]! += A[i * k + t]! * B[t * n + j]!;
  return C;
}

function transpose(A: Float64Array, m: number, n: number): Float64Array {
  const T = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) T[j * m + i] = A[i * n + j]!;
  return T;
}

function maxAbs(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s = Math.max(s, Math.abs(a[i]!));
  return s;
}

function assertAllClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  what: string,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i]! - expected[i]!) <= tol,
      `${what}[${i}]: ${actual[i]} vs ${expected[i]} (tol ${tol})`,
    );
  }
}

/** The explicit m × m matrix Q = H_0·H_1·… from the reflectors stored in F. */
function denseQ(F: Float64Array, m: number, n: number, tau: Float64Array): Float64Array {
  let Q: Float64Array = new Float64Array(m * m);
  for (let i = 0; i < m; i++) Q[i * m + i] = 1;
  for (let k = 0; k < Math.min(m, n); k++) {
    const v = new Float64Array(m);
    v[k] = 1;
    for (let i = k + 1; i < m; i++) v[i] = F[i * n + k]!;
    const H = new Float64Array(m * m);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < m; j++) H[i * m + j] = (i === j ? 1 : 0) - tau[k]! * v[i]! * v[j]!;
    Q = matMul(Q, H, m, m, m);
  }
  return Q;
}

/** The `min(m, n) × n` upper trapezoid of F, zeros below. */
function upperOf(F: Float64Array, m: number, n: number): Float64Array {
  const k = Math.min(m, n);
  const R = new Float64Array(k * n);
  for (let i = 0; i < k; i++) for (let j = i; j < n; j++) R[i * n + j] = F[i * n + j]!;
  return R;
}

test('householderQr: A = Q·R with Q orthogonal (the product of its reflectors) and R upper, tall or wide', () => {
  fc.assert(
    fc.property(fc.gen(), (g) => {
      const m = g(fc.integer, { min: 0, max: 11 });
      const n = g(fc.integer, { min: 0, max: 11 });
      const A = randomMatrix(g, m, n);
      const F = A.slice();
      const tau = new Float64Array(Math.min(m, n));
      householderQr(F, m, n, tau);
      const k = Math.min(m, n);
      const Q = denseQ(F, m, n, tau);
      const QR = matMul(Q.subarray(0, m * m), upperOf(F, m, n), m, m, n).subarray(0, m * n);
      // Q·[R; 0]: only the first k columns of Q meet R's rows.
      const Qk = new Float64Array(m * k);
      for (let i = 0; i < m; i++) for (let t = 0; t < k; t++) Qk[i * k + t] = Q[i * m + t]!;
      assertAllClose(matMul(Qk, upperOf(F, m, n), m, k, n), A, 1e-13 * (n + m + 1), 'Q·R');
      assert.equal(QR.length, m * n);
      const QtQ = matMul(transpose(Q, m, m), Q, m, m, m);
      for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) QtQ[i * m + j]! -= i === j ? 1 : 0;
      assert.ok(maxAbs(QtQ) <= 1e-14 * (m + 1), `QᵀQ − I = ${maxAbs(QtQ)}`);
    }),
  );
});

test('applyQt and applyQ equal multiplication by the explicit Qᵀ and Q', () => {
  fc.assert(
    fc.property(fc.gen(), (g) => {
      const m = g(fc.integer, { min: 0, max: 11 });
      const n = g(fc.integer, { min: 0, max: 11 });
      const F = randomMatrix(g, m, n);
      const tau = new Float64Array(Math.min(m, n));
      householderQr(F, m, n, tau);
      const Q = denseQ(F, m, n, tau);
      const b = randomMatrix(g, m, 1);
      const tol = 1e-14 * (m + 1);
      assertAllClose(applyQt(F, m, n, tau, b.slice()), matMul(transpose(Q, m, m), b, m, m, 1), tol, 'Qᵀb');
      assertAllClose(applyQ(F, m, n, tau, b.slice()), matMul(Q, b, m, m, 1), tol, 'Qb');
    }),
  );
});

test('householderQr of a full-rank tall matrix gives Cholesky’s factor of AᵀA up to the signs of its rows', () => {
  fc.assert(
    fc.property(fc.gen(), (g) => {
      const n = g(fc.integer, { min: 1, max: 8 });
      const m = n + g(fc.integer, { min: 0, max: 8 });
      const A = randomMatrix(g, m, n);
      for (let j = 0; j < n; j++) A[j * n + j]! += 3; // keeps AᵀA well conditioned
      const F = A.slice();
      householderQr(F, m, n, new Float64Array(n));
      // Row i of R solves the Cholesky recurrence of AᵀA: compare RᵀR with AᵀA, then |R_ii| with
      // the pivots of an independent factorisation via solveSymmetric's Cholesky (unit solves).
      const R = upperOf(F, m, n);
      assertAllClose(
        matMul(transpose(R, n, n), R, n, n, n),
        matMul(transpose(A, m, n), A, n, m, n),
        1e-12 * m,
        'RᵀR',
      );
      for (let i = 0; i < n; i++) assert.ok(F[i * n + i] !== 0);
    }),
  );
});

test('solveUpper solves R·x = b on the leading block of a strided matrix and ignores the lower triangle', () => {
  fc.assert(
    fc.property(fc.gen(), (g) => {
      const k = g(fc.integer, { min: 0, max: 10 });
      const stride = k + g(fc.integer, { min: 0, max: 3 });
      const R = randomMatrix(g, Math.max(k, 1), stride);
      for (let i = 0; i < k; i++) {
        R[i * stride + i] = 2 + Math.abs(R[i * stride + i]!);
        for (let j = 0; j < i; j++) R[i * stride + j] = Number.NaN;
      }
      const xTrue = randomMatrix(g, k, 1);
      const b = new Float64Array(k);
      for (let i = 0; i < k; i++) for (let j = i; j < k; j++) b[i]! += R[i * stride + j]! * xTrue[j]!;
      const x = solveUpper(R, k, b, stride);
      assert.equal(x, b);
      assertAllClose(x, xTrue, 1e-12, 'x');
    }),
  );
});

test('qrStackRows: the new R factors [R; B], block by block or all at once', () => {
  fc.assert(
    fc.property(fc.gen(), (g) => {
      const n = g(fc.integer, { min: 0, max: 9 });
      const m = g(fc.integer, { min: 0, max: 25 });
      const split = g(fc.integer, { min: 0, max: m });
      const X = randomMatrix(g, m, n);
      // Folded in two blocks, starting from R = 0, against one Householder QR of all of X.
      const R = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) R[i * n + j] = Number.NaN; // never read
      qrStackRows(R, n, X.slice(0, split * n), split);
      qrStackRows(R, n, X.slice(split * n), m - split);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < i; j++) assert.ok(Number.isNaN(R[i * n + j]!), 'lower written');
      const Rclean = upperOf(R, n, n);
      const gram = matMul(transpose(X, m, n), X, n, m, n);
      assertAllClose(matMul(transpose(Rclean, n, n), Rclean, n, n, n), gram, 1e-13 * (m + 1), 'RᵀR = XᵀX');
      const F = X.slice();
      const k = Math.min(m, n);
      householderQr(F, m, n, new Float64Array(k));
      const direct = new Float64Array(n * n);
      direct.set(upperOf(F, m, n));
      // R is unique up to the sign of each row as long as the leading columns of X are independent:
      // after a (numerically) dependent column the later rows may differ, and both be right.
      for (let i = 0; i < n && Math.abs(direct[i * n + i]!) > 1e-3; i++) {
        const sign = Math.sign(Rclean[i * n + i]!) * Math.sign(direct[i * n + i]!);
        for (let j = i; j < n; j++) {
          const diff = Math.abs(Rclean[i * n + j]! - sign * direct[i * n + j]!);
          assert.ok(diff <= 1e-12 * (m + 1), `R[${i},${j}]`);
        }
      }
    }),
  );
});

test('pivotedQr: A·P = Q·R with a non-increasing diagonal that dominates every trailing column', () => {
  fc.assert(
    fc.property(fc.gen(), (g) => {
      const m = g(fc.integer, { min: 0, max: 10 });
      const n = g(fc.integer, { min: 0, max: 10 });
      const A = randomMatrix(g, m, n);
      const F = A.slice();
      const k = Math.min(m, n);
      const tau = new Float64Array(k);
      const perm = new Int32Array(n);
      pivotedQr(F, m, n, tau, perm);
      assert.deepEqual(
        [...perm].sort((a, b) => a - b),
        Array.from({ length: n }, (_, j) => j),
      );
      const AP = new Float64Array(m * n);
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) AP[i * n + j] = A[i * n + perm[j]!]!;
      const Q = denseQ(F, m, n, tau);
      const Qk = new Float64Array(m * k);
      for (let i = 0; i < m; i++) for (let t = 0; t < k; t++) Qk[i * k + t] = Q[i * m + t]!;
      assertAllClose(matMul(Qk, upperOf(F, m, n), m, k, n), AP, 1e-13 * (m + n + 1), 'Q·R = A·P');
      for (let i = 0; i < k; i++) {
        const rii = Math.abs(F[i * n + i]!);
        if (i > 0) assert.ok(rii <= Math.abs(F[(i - 1) * n + i - 1]!) * (1 + 1e-12), `|R_${i}${i}| grew`);
        for (let j = i + 1; j < n; j++) {
          let ss = 0;
          // Rows i .. min(j, k − 1) of column j: below the diagonal F holds reflectors, not R.
          for (let t = i; t <= Math.min(j, k - 1); t++) ss += F[t * n + j]! ** 2;
          assert.ok(Math.sqrt(ss) <= rii * (1 + 1e-12) + 1e-15, `column ${j} beats pivot ${i}`);
        }
      }
    }),
  );
});

/**
 * One-sided Jacobi (Hestenes): rotates the columns of the `rows × cols` matrix M until they are
 * mutually orthogonal, M·J = W. An SVD in all but name, accurate to rounding times the condition
 * number of M, where normal equations would square it: the test scales columns by up to 1e±3, which
 * makes C·Cᵀ too ill-conditioned to serve as a reference.
 */
function jacobi(M: Float64Array, rows: number, cols: number): { W: Float64Array; J: Float64Array } {
  const W = M.slice();
  const J = new Float64Array(cols * cols);
  for (let i = 0; i < cols; i++) J[i * cols + i] = 1;
  const rotate = (X: Float64Array, len: number, p: number, q: number, c: number, s: number) => {
    for (let i = 0; i < len; i++) {
      const xp = X[i * cols + p]!;
      const xq = X[i * cols + q]!;
      X[i * cols + p] = c * xp - s * xq;
      X[i * cols + q] = s * xp + c * xq;
    }
  };
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false;
    for (let p = 0; p < cols; p++) {
      for (let q = p + 1; q < cols; q++) {
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let i = 0; i < rows; i++) {
          alpha += W[i * cols + p]! ** 2;
          beta += W[i * cols + q]! ** 2;
          gamma += W[i * cols + p]! * W[i * cols + q]!;
        }
        if (Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        rotate(W, rows, p, q, c, c * t);
        rotate(J, cols, p, q, c, c * t);
      }
    }
    if (!rotated) break;
  }
  return { W, J };
}

/** Σ_i u_i·(v_iᵀ·y)/‖w_i‖² over the columns i of the `rows × cols` W, the pieces of a pseudo-inverse. */
function jacobiApply(
  W: Float64Array,
  rows: number,
  cols: number,
  U: Float64Array,
  uRows: number,
  V: Float64Array,
  y: Float64Array,
): Float64Array {
  const out = new Float64Array(uRows);
  for (let c = 0; c < cols; c++) {
    let w2 = 0;
    for (let i = 0; i < rows; i++) w2 += W[i * cols + c]! ** 2;
    let vy = 0;
    for (let i = 0; i < y.length; i++) vy += V[i * cols + c]! * y[i]!;
    for (let i = 0; i < uRows; i++) out[i]! += (U[i * cols + c]! * vy) / w2;
  }
  return out;
}

/**
 * A⁺·b for A = B·C (B `m × r`, C `r × n`, both of full rank r): C⁺·B⁺·b, each pseudo-inverse from a
 * one-sided Jacobi SVD. B·J = W gives B⁺ = J·(WᵀW)⁻¹·Wᵀ; Cᵀ·J = W gives C⁺ = W·(WᵀW)⁻¹·Jᵀ.
 */
function pseudoInverseSolve(
  B: Float64Array,
  C: Float64Array,
  m: number,
  r: number,
  n: number,
  b: Float64Array,
) {
  const jb = jacobi(B, m, r);
  const z = jacobiApply(jb.W, m, r, jb.J, r, jb.W, b);
  const jc = jacobi(transpose(C, r, n), n, r);
  return jacobiApply(jc.W, n, r, jc.W, n, jc.J, z);
}

test('leastSquares gives the minimum-norm solution A⁺b for rank-deficient systems, tall and wide', () => {
  fc.assert(
    fc.property(fc.gen(), (g) => {
      const m = g(fc.integer, { min: 1, max: 12 });
      const n = g(fc.integer, { min: 1, max: 12 });
      const r = g(fc.integer, { min: 0, max: Math.min(m, n) - 1 });
      const B = randomFactor(g, m, r);
      const C = randomFactor(g, r, n);
      // A dominant diagonal keeps B and C of full rank r and modest condition; column scales of up
      // to 1e±3 check that the rank decision does not depend on units.
      for (let i = 0; i < r; i++) {
        B[i * r + i]! += 3;
        C[i * n + i]! += 3;
      }
      for (let j = 0; j < n; j++) {
        const s = 10 ** g(fc.integer, { min: -3, max: 3 });
        for (let i = 0; i < r; i++) C[i * n + j]! *= s;
      }
      const A = matMul(B, C, m, r, n);
      const b = randomMatrix(g, m, 1);
      const Acopy = A.slice();
      const bCopy = b.slice();
      const { x, rank, dependent } = leastSquares(A, m, n, b);
      assert.deepEqual(A, Acopy);
      assert.deepEqual(b, bCopy);
      assert.equal(rank, r);
      assert.equal(dependent.length, n - r);
      const expected = r === 0 ? new Float64Array(n) : pseudoInverseSolve(B, C, m, r, n, b);
      assertAllClose(x, expected, 1e-8 * (1 + maxAbs(expected)), `x (m=${m} n=${n} r=${r})`);
    }),
  );
});

test('leastSquares: the columns it does not list as dependent are independent and span the others', () => {
  fc.assert(
    fc.property(fc.gen(), (g) => {
      const m = g(fc.integer, { min: 2, max: 12 });
      const n = g(fc.integer, { min: 2, max: 10 });
      const r = g(fc.integer, { min: 1, max: Math.min(m, n) - 1 });
      const B = randomFactor(g, m, r);
      const C = randomFactor(g, r, n);
      for (let i = 0; i < r; i++) {
        B[i * r + i]! += 3;
        C[i * n + i]! += 3;
      }
      const A = matMul(B, C, m, r, n);
      const { dependent } = leastSquares(A, m, n, new Float64Array(m));
      const kept = Array.from({ length: n }, (_, j) => j).filter((j) => !dependent.includes(j));
      assert.equal(kept.length, r);
      const K = new Float64Array(m * r);
      for (let i = 0; i < m; i++) for (const [t, j] of kept.entries()) K[i * r + t] = A[i * n + j]!;
      assert.equal(leastSquares(K, m, r, new Float64Array(m)).rank, r, 'kept columns are independent');
      for (const j of dependent) {
        const col = new Float64Array(m);
        for (let i = 0; i < m; i++) col[i] = A[i * n + j]!;
        const fit = leastSquares(K, m, r, col).x;
        const resid = matMul(K, fit, m, r, 1).map((v, i) => v - col[i]!);
        assert.ok(maxAbs(resid) <= 1e-9 * (1 + maxAbs(col)), `column ${j} is not in the span of ${kept}`);
      }
    }),
  );
});

test('leastSquares solves full-rank tall systems like the normal equations and wide ones as Aᵀ(AAᵀ)⁻¹b', () => {
  fc.assert(
    fc.property(fc.gen(), (g) => {
      const k = g(fc.integer, { min: 1, max: 8 });
      const extra = g(fc.integer, { min: 0, max: 8 });
      const wide = g(fc.boolean);
      const m = wide ? k : k + extra;
      const n = wide ? k + extra : k;
      const A = randomMatrix(g, m, n);
      for (let i = 0; i < k; i++) A[i * n + i]! += 3;
      const b = randomMatrix(g, m, 1);
      const { x, rank, dependent } = leastSquares(A, m, n, b);
      assert.equal(rank, k);
      assert.equal(dependent.length, n - k);
      const At = transpose(A, m, n);
      const expected = wide
        ? matMul(At, solveSymmetric(matMul(A, At, m, n, m), m, b), n, m, 1)
        : solveSymmetric(matMul(At, A, n, m, n), n, matMul(At, b, n, m, 1));
      assertAllClose(x, expected, 1e-10 * (1 + maxAbs(expected)), 'x');
    }),
  );
});

test('leastSquares matches numpy.linalg.lstsq on a wide rank-deficient system', () => {
  // Debian's /usr/bin/python3, numpy 1.24.2:
  //   import numpy as np
  //   A = np.array([[(i * 7 + j * 3) % 5 - 2 for j in range(6)] for i in range(5)], float)
  //   A[:, 5] = A[:, 0] + 2 * A[:, 1]; A[:, 4] = A[:, 0]
  //   b = np.array([1., -2., 0.5, 3., -1.])
  //   x, _, rank, _ = np.linalg.lstsq(A, b, rcond=None); print(x.tolist(), rank)
  const m = 5;
  const n = 6;
  const A = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) A[i * n + j] = ((i * 7 + j * 3) % 5) - 2;
    A[i * n + 5] = A[i * n]! + 2 * A[i * n + 1]!;
    A[i * n + 4] = A[i * n]!;
  }
  const { x, rank, dependent } = leastSquares(A, m, n, Float64Array.of(1, -2, 0.5, 3, -1));
  assert.equal(rank, NUMPY_WIDE.rank);
  assertAllClose(x, NUMPY_WIDE.x, 1e-13, 'x');
  // Column 4 repeats column 0 and column 5 is column 0 + 2·column 1: the later columns are named.
  assert.deepEqual([...dependent], [4, 5]);
});

const NUMPY_WIDE = {
  x: [
    -0.17272727272727334, 0.30909090909090925, -0.09999999999999991, -0.19999999999999987,
    -0.1727272727272733, 0.4454545454545452,
  ],
  rank: 4,
};

test('leastSquares: duplicated columns share their weight, zero columns get none', () => {
  // y = 2·a − b exactly: the duplicate of a takes half of a's weight, the later twin is named.
  const m = 7;
  const A = new Float64Array(m * 4);
  const y = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    const a = (i % 3) - 1 + i / 10;
    const b = ((i * 5) % 7) / 7;
    A.set([a, 0, a, b], i * 4);
    y[i] = 2 * a - b;
  }
  const { x, rank, dependent } = leastSquares(A, m, 4, y);
  assert.equal(rank, 2);
  assert.deepEqual([...dependent], [1, 2]);
  assertAllClose(x, [1, 0, 1, -1], 1e-14, 'x');
  const zero = leastSquares(new Float64Array(6), 3, 2, Float64Array.of(1, 2, 3));
  assert.deepEqual(zero, { x: new Float64Array(2), rank: 0, dependent: Int32Array.of(0, 1) });
  assert.deepEqual(leastSquares(new Float64Array(0), 0, 0, new Float64Array(0)).x, new Float64Array(0));
});

test('leastSquares: columnScale decides rank against other norms, e.g. a constant column’s uncentred one', () => {
  // Column 1 is "centred constant": rounding noise of 1e-15 on a column whose raw norm was 10.
  const m = 6;
  const A = new Float64Array(m * 2);
  for (let i = 0; i < m; i++) A.set([i - 2.5, (i % 2 ? 1 : -1) * 1e-15], i * 2);
  const b = Float64Array.from({ length: m }, (_, i) => 3 * (i - 2.5));
  // Scaled by its own norm the noise is a unit direction, independent of column 0.
  assert.equal(leastSquares(A, m, 2, b).rank, 2);
  const scaled = leastSquares(A, m, 2, b, { columnScale: Float64Array.of(1, 10) });
  assert.equal(scaled.rank, 1);
  assert.deepEqual([...scaled.dependent], [1]);
  assertAllClose(scaled.x, [3, 0], 1e-12, 'x');
  assert.throws(
    () => leastSquares(A, m, 2, b, { columnScale: new Float64Array(1) }),
    /leastSquares columnScale/,
  );
});

test('defaultRcond is numpy’s ε·max(m, n), never below 1e-12', () => {
  assert.equal(defaultRcond(10, 3), 1e-12);
  assert.equal(defaultRcond(1e6, 3), Number.EPSILON * 1e6);
});

test('QR kernels refuse short arrays and a bad rcond by name', () => {
  assert.throws(
    () => householderQr(new Float64Array(5), 2, 3, new Float64Array(2)),
    /householderQr A: span \[0, 6\)/,
  );
  assert.throws(() => householderQr(new Float64Array(6), 2, 3, new Float64Array(1)), /householderQr tau/);
  assert.throws(
    () => applyQt(new Float64Array(6), 3, 2, new Float64Array(2), new Float64Array(2)),
    /applyQt b/,
  );
  assert.throws(() => solveUpper(new Float64Array(3), 2, new Float64Array(2)), /solveUpper R: span \[0, 4\)/);
  assert.throws(() => qrStackRows(new Float64Array(4), 2, new Float64Array(5), 3), /qrStackRows B/);
  assert.throws(
    () => pivotedQr(new Float64Array(4), 2, 2, new Float64Array(2), new Int32Array(1)),
    /pivotedQr perm/,
  );
  assert.throws(
    () => leastSquares(new Float64Array(4), 2, 2, new Float64Array(2), { rcond: 1 }),
    /leastSquares: rcond must be in \[0, 1\), got 1/,
  );
});
