/**
 * Householder QR factorisations and the least-squares solves built on them: the accurate
 * alternative to the normal equations, which square the condition number of the data.
 *
 * Names: `A` is an `m × n` row-major matrix, factored in place in LAPACK's layout (dgeqrf): R on
 * and above the diagonal, the Householder vectors below it with their leading 1 implied, and one
 * scale `tau[k]` per reflector, so that Q = H_0·H_1·…·H_{k−1} with H_k = I − tau[k]·v_k·v_kᵀ and
 * k = min(m, n). `b` is a vector of length m, `x` a solution of length n, `perm` a column order.
 *
 * Every loop runs along rows of the row-major matrix (an update of the trailing columns is a sweep of
 * row-wise multiply-adds), so a factorisation streams memory in order; only the Householder column
 * itself is read with a stride.
 */

import { checkSpan, dotUnchecked } from './blas.ts';

/**
 * Turns `x = [top[at]; A[i, k] for i0 ≤ i < m]` into a reflector, as LAPACK's dlarfg does: the
 * strided tail becomes v (its leading 1 implied), `top[at]` becomes beta = ∓‖x‖, and tau is
 * returned. Returns 0 (H = I) and changes nothing when the tail is zero already.
 */
function reflector(
  A: Float64Array,
  n: number,
  k: number,
  i0: number,
  m: number,
  top: Float64Array,
  at: number,
): number {
  let tail = 0;
  for (let i = i0; i < m; i++) tail = Math.max(tail, Math.abs(A[i * n + k]!));
  if (tail === 0) return 0;
  // Computed on x / s with s its largest magnitude, so that neither the squares nor the quotients
  // overflow or underflow: columns near 1e±300, or subnormal ones, still give an orthogonal H.
  const s = Math.max(tail, Math.abs(top[at]!));
  const alpha = top[at]! / s;
  let ss = alpha * alpha;
  for (let i = i0; i < m; i++) ss += (A[i * n + k]! / s) ** 2;
  const norm = Math.sqrt(ss);
  // beta takes the sign opposite to alpha, so alpha − beta adds magnitudes instead of cancelling.
  const beta = alpha >= 0 ? -norm : norm;
  const denominator = alpha - beta;
  for (let i = i0; i < m; i++) A[i * n + k] = A[i * n + k]! / s / denominator;
  top[at] = beta * s;
  return (beta - alpha) / beta;
}

/**
 * Applies H = I − tau·v·vᵀ from the left to the trailing columns `k+1 .. n` of the rows `top` and
 * `i0 .. m` of A, where v is 1 at row `top` and `A[i, k]` at rows i ≥ i0. `work` receives w = vᵀ·A.
 */
function applyReflector(
  A: Float64Array,
  n: number,
  k: number,
  top: Float64Array,
  topOff: number,
  i0: number,
  m: number,
  tau: number,
  work: Float64Array,
): void {
  const j0 = k + 1;
  for (let j = j0; j < n; j++) work[j] = top[topOff + j]!;
  for (let i = i0; i < m; i++) {
    const vi = A[i * n + k]!;
    if (vi === 0) continue;
    const r = i * n;
    for (let j = j0; j < n; j++) work[j] = work[j]! + vi * A[r + j]!;
  }
  for (let j = j0; j < n; j++) top[topOff + j] = top[topOff + j]! - tau * work[j]!;
  for (let i = i0; i < m; i++) {
    const f = tau * A[i * n + k]!;
    if (f === 0) continue;
    const r = i * n;
    for (let j = j0; j < n; j++) A[r + j] = A[r + j]! - f * work[j]!;
  }
}

/**
 * Householder QR of a row-major `m × n` matrix, in place (LAPACK's dgeqrf): A's upper triangle
 * becomes R (`min(m, n) × n`), the part below the diagonal the Householder vectors, and `tau` their
 * scales. Works for tall and wide A alike.
 *
 * @param tau - receives `min(m, n)` reflector scales
 * @param work - scratch of length ≥ n; allocated when absent
 */
export function householderQr(
  A: Float64Array,
  m: number,
  n: number,
  tau: Float64Array,
  work: Float64Array = new Float64Array(n),
): void {
  checkSpan('householderQr A', A, 0, m * n);
  const kk = Math.min(m, n);
  checkSpan('householderQr tau', tau, 0, kk);
  checkSpan('householderQr work', work, 0, n);
  for (let k = 0; k < kk; k++) {
    const t = reflector(A, n, k, k + 1, m, A, k * n + k);
    tau[k] = t;
    if (t !== 0) applyReflector(A, n, k, A, k * n, k + 1, m, t, work);
  }
}

/**
 * b ← Qᵀ·b for the Q that {@link householderQr} or {@link pivotedQr} left in `A` and `tau`.
 * Returns `b`.
 */
export function applyQt(
  A: Float64Array,
  m: number,
  n: number,
  tau: Float64Array,
  b: Float64Array,
): Float64Array {
  checkSpan('applyQt A', A, 0, m * n);
  checkSpan('applyQt b', b, 0, m);
  const kk = Math.min(m, n);
  checkSpan('applyQt tau', tau, 0, kk);
  for (let k = 0; k < kk; k++) reflectVector(A, m, n, k, tau[k]!, b);
  return b;
}

/** b ← Q·b, the inverse of {@link applyQt}. Returns `b`. */
export function applyQ(
  A: Float64Array,
  m: number,
  n: number,
  tau: Float64Array,
  b: Float64Array,
): Float64Array {
  checkSpan('applyQ A', A, 0, m * n);
  checkSpan('applyQ b', b, 0, m);
  const kk = Math.min(m, n);
  checkSpan('applyQ tau', tau, 0, kk);
  for (let k = kk - 1; k >= 0; k--) reflectVector(A, m, n, k, tau[k]!, b);
  return b;
}

/** b ← H_k·b: each reflector is its own inverse. */
function reflectVector(A: Float64Array, m: number, n: number, k: number, t: number, b: Float64Array): void {
  if (t === 0) return;
  let s = b[k]!;
  for (let i = k + 1; i < m; i++) s += A[i * n + k]! * b[i]!;
  s *= t;
  b[k] = b[k]! - s;
  for (let i = k + 1; i < m; i++) b[i] = b[i]! - s * A[i * n + k]!;
}

/**
 * Solves R·x = b in place by back substitution, for the leading `k × k` block of an upper
 * triangular row-major matrix whose rows are `stride` apart (so the R that {@link householderQr}
 * leaves in an `m × n` matrix is `solveUpper(A, k, b, n)`). Reads only the upper triangle; `b`
 * becomes x and is returned.
 */
export function solveUpper(R: Float64Array, k: number, b: Float64Array, stride = k): Float64Array {
  if (k > 0) checkSpan('solveUpper R', R, 0, (k - 1) * stride + k);
  checkSpan('solveUpper b', b, 0, k);
  for (let i = k - 1; i >= 0; i--) {
    const r = i * stride;
    b[i] = (b[i]! - dotUnchecked(k - 1 - i, R, r + i + 1, b, i + 1)) / R[r + i]!;
  }
  return b;
}

/**
 * R ← the R factor of `[R; B]`: the step of a tall-skinny QR (TSQR). R is `n × n` upper triangular
 * (its strict lower triangle is neither read nor written), B is `m × n` and is overwritten by the
 * Householder vectors. Rᵀ·R grows by exactly Bᵀ·B, up to rounding, so a partition's rows can be
 * folded into R block by block, and two partitions' factors by folding one into the other.
 *
 * Each reflector touches one row of R and all of B (LAPACK's dtpqrt), so the cost is 2·m·n² flops
 * whatever R holds.
 *
 * @param work - scratch of length ≥ n; allocated when absent
 */
export function qrStackRows(
  R: Float64Array,
  n: number,
  B: Float64Array,
  m: number,
  work: Float64Array = new Float64Array(n),
): void {
  checkSpan('qrStackRows R', R, 0, n * n);
  checkSpan('qrStackRows B', B, 0, m * n);
  checkSpan('qrStackRows work', work, 0, n);
  for (let k = 0; k < n; k++) {
    const t = reflector(B, n, k, 0, m, R, k * n + k);
    if (t !== 0) applyReflector(B, n, k, R, k * n, 0, m, t, work);
  }
}

/**
 * QR with column pivoting, in place (LAPACK's dgeqp3, unblocked): A·P = Q·R with the column of
 * largest remaining norm moved forward at each step, so |R_00| ≥ |R_11| ≥ … and the trailing
 * diagonal reveals the numerical rank. Ties go to the lower column index, so the order is
 * deterministic. Remaining norms are downdated, and recomputed when downdating has cancelled away
 * more than half of their digits, as dgeqp3 does.
 *
 * @param tau - receives `min(m, n)` reflector scales
 * @param perm - receives the column order: column k of A·P is column `perm[k]` of the input
 */
export function pivotedQr(A: Float64Array, m: number, n: number, tau: Float64Array, perm: Int32Array): void {
  checkSpan('pivotedQr A', A, 0, m * n);
  const kk = Math.min(m, n);
  checkSpan('pivotedQr tau', tau, 0, kk);
  checkSpan('pivotedQr perm', perm, 0, n);
  const norms = new Float64Array(n);
  const exact = new Float64Array(n);
  const work = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    perm[j] = j;
    norms[j] = columnNorm(A, m, n, j, 0);
    exact[j] = norms[j]!;
  }
  const tol = Math.sqrt(Number.EPSILON);
  for (let k = 0; k < kk; k++) {
    let p = k;
    for (let j = k + 1; j < n; j++) if (norms[j]! > norms[p]!) p = j;
    if (p !== k) {
      for (let i = 0; i < m; i++) {
        const t = A[i * n + k]!;
        A[i * n + k] = A[i * n + p]!;
        A[i * n + p] = t;
      }
      const pk = perm[k]!;
      perm[k] = perm[p]!;
      perm[p] = pk;
      norms[p] = norms[k]!;
      exact[p] = exact[k]!;
    }
    const t = reflector(A, n, k, k + 1, m, A, k * n + k);
    tau[k] = t;
    if (t !== 0) applyReflector(A, n, k, A, k * n, k + 1, m, t, work);
    for (let j = k + 1; j < n; j++) {
      const nj = norms[j]!;
      if (nj === 0) continue;
      const ratio = Math.abs(A[k * n + j]!) / nj;
      const left = Math.max(0, (1 + ratio) * (1 - ratio));
      if (left * (nj / exact[j]!) ** 2 <= tol) {
        norms[j] = columnNorm(A, m, n, j, k + 1);
        exact[j] = norms[j]!;
      } else {
        norms[j] = nj * Math.sqrt(left);
      }
    }
  }
}

/** ‖A[i0..m, j]‖, the strided column gathered into no buffer. */
function columnNorm(A: Float64Array, m: number, n: number, j: number, i0: number): number {
  let scale = 0;
  for (let i = i0; i < m; i++) scale = Math.max(scale, Math.abs(A[i * n + j]!));
  if (scale === 0 || !Number.isFinite(scale)) return scale;
  let ss = 0;
  for (let i = i0; i < m; i++) ss += (A[i * n + j]! / scale) ** 2;
  return scale * Math.sqrt(ss);
}

/**
 * The rank tolerance {@link leastSquares} uses unless told otherwise: numpy.linalg.lstsq's default
 * ε·max(m, n), but never below 1e-12, because a pivoted QR reveals rank less sharply than the SVD
 * numpy decides it with. Exactly dependent columns leave |R_kk| of rounding size (about 1e-16 of
 * their norm), so 1e-12 keeps four orders of magnitude between them and the tolerance.
 */
export function defaultRcond(m: number, n: number): number {
  return Math.max(1e-12, Number.EPSILON * Math.max(m, n));
}

/** Options of {@link leastSquares}. */
export interface LeastSquaresOptions {
  /**
   * Column k of the pivoted, column-equilibrated factor counts toward the rank while
   * |R_kk| > rcond·|R_00|: LAPACK gelsy's test, with its incremental condition estimate replaced by
   * the diagonal itself.
   * @defaultValue {@link defaultRcond}(m, n)
   */
  readonly rcond?: number;
  /**
   * The norm each column is divided by before the rank decision, in place of its own norm: e.g.
   * the norms of the uncentred columns when A is a centred design, so that a constant column, whose
   * centred remains are rounding noise, counts as dependent rather than as a unit direction.
   * @defaultValue the norms of A's columns
   */
  readonly columnScale?: Float64Array;
}

/** What {@link leastSquares} returns. */
export interface LeastSquaresSolution {
  /** The minimum-norm least-squares solution, length n. */
  readonly x: Float64Array;
  /** The numerical rank. */
  readonly rank: number;
  /**
   * `n − rank` columns, ascending, each a linear combination of the columns not listed: the
   * highest-numbered columns that the null space allows, so of two equal columns the later one is
   * named, as a plain Cholesky would name it.
   */
  readonly dependent: Int32Array;
}

/**
 * The minimum-norm solution of min ‖A·x − b‖ for any `m × n` matrix: tall or wide, of full or
 * deficient rank (what LAPACK's gelsy and numpy.linalg.lstsq compute). A and b are left untouched.
 *
 * Rank is decided on A with every column scaled to unit norm, so it does not depend on the units of
 * the columns: |R_kk| of the pivoted factor is then the sine of the angle between a column and the
 * span of the ones before it. The solution is nevertheless the minimum-norm one in A's own
 * coordinates: with A·P ≈ Q₁·W, W the first `rank` rows of R with the column scales put back, the
 * answer is P·W⁺·Q₁ᵀb, and W⁺ comes from a QR of Wᵀ (the complete orthogonal decomposition). A basic
 * solution on the pivot columns would be simpler, but a pivot column of tiny norm makes it huge,
 * and projecting the null space out of a huge vector cancels every digit.
 */
export function leastSquares(
  A: Float64Array,
  m: number,
  n: number,
  b: Float64Array,
  options: LeastSquaresOptions = {},
): LeastSquaresSolution {
  checkSpan('leastSquares A', A, 0, m * n);
  checkSpan('leastSquares b', b, 0, m);
  const rcond = options.rcond ?? defaultRcond(m, n);
  if (!(rcond >= 0 && rcond < 1)) throw new RangeError(`leastSquares: rcond must be in [0, 1), got ${rcond}`);
  const F = A.slice(0, m * n);
  const scale = new Float64Array(n);
  if (options.columnScale !== undefined) checkSpan('leastSquares columnScale', options.columnScale, 0, n);
  for (let j = 0; j < n; j++) {
    const s = options.columnScale?.[j] ?? columnNorm(F, m, n, j, 0);
    scale[j] = s > 0 && Number.isFinite(s) ? s : 1;
  }
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) F[i * n + j] = F[i * n + j]! / scale[j]!;
  const kk = Math.min(m, n);
  const tau = new Float64Array(kk);
  const perm = new Int32Array(n);
  pivotedQr(F, m, n, tau, perm);
  const r00 = kk > 0 ? Math.abs(F[0]!) : 0;
  let rank = 0;
  while (rank < kk && Math.abs(F[rank * n + rank]!) > rcond * r00) rank++;

  const c = applyQt(F, m, n, tau, b.slice(0, m));
  const x = new Float64Array(n);
  if (rank === n) {
    // Full column rank: the solution is unique, R·D·x = Qᵀb by back substitution.
    solveUpper(F, n, c, n);
    for (let i = 0; i < n; i++) x[perm[i]!] = c[i]! / scale[perm[i]!]!;
    return { x, rank, dependent: new Int32Array(0) };
  }

  // Wᵀ = Z·T (Householder QR of the n × rank matrix); then W = Tᵀ·Zᵀ and W⁺·c₁ = Z·T⁻ᵀ·c₁.
  // |R_ik| ≤ 1 for unit columns, so putting the scales back cannot overflow.
  const Wt = new Float64Array(n * rank);
  for (let i = 0; i < rank; i++) {
    for (let k = i; k < n; k++) Wt[k * rank + i] = F[i * n + k]! * scale[perm[k]!]!;
  }
  const tauW = new Float64Array(rank);
  householderQr(Wt, n, rank, tauW);
  const y = new Float64Array(n);
  for (let i = 0; i < rank; i++) {
    let s = c[i]!;
    for (let t = 0; t < i; t++) s -= Wt[t * rank + i]! * y[t]!;
    y[i] = s / Wt[i * rank + i]!;
  }
  applyQ(Wt, n, rank, tauW, y);
  for (let k = 0; k < n; k++) x[perm[k]!] = y[k]!;
  return { x, rank, dependent: dependentColumns(F, n, rank, perm) };
}

/**
 * One column per null-space dimension that the others determine, for the pivoted factor F (its
 * first `rank` rows, in unit-column coordinates, so that the choice does not depend on units).
 * The null space is the trailing part of a full QR of [R₁₁ R₁₂]ᵀ; Gaussian elimination on that
 * orthonormal basis (rows = basis vectors) takes at each step the highest-numbered column with a
 * clearly non-zero entry (beyond 1e-6 of the largest remaining entry, far above rounding).
 */
function dependentColumns(F: Float64Array, n: number, rank: number, perm: Int32Array): Int32Array {
  const nullity = n - rank;
  const Wt = new Float64Array(n * rank);
  for (let i = 0; i < rank; i++) for (let k = i; k < n; k++) Wt[k * rank + i] = F[i * n + k]!;
  const tauW = new Float64Array(rank);
  householderQr(Wt, n, rank, tauW);
  // Rows of V are the basis vectors Q·e_{rank+t}, mapped back from pivot order to columns of A.
  const V = new Float64Array(nullity * n);
  const e = new Float64Array(n);
  for (let t = 0; t < nullity; t++) {
    e.fill(0);
    e[rank + t] = 1;
    applyQ(Wt, n, rank, tauW, e);
    for (let k = 0; k < n; k++) V[t * n + perm[k]!] = e[k]!;
  }
  const out = new Int32Array(nullity);
  for (let s = 0; s < nullity; s++) {
    let largest = 0;
    for (let i = s * n; i < nullity * n; i++) largest = Math.max(largest, Math.abs(V[i]!));
    let col = n - 1;
    let row = s;
    for (; col >= 0; col--) {
      let best = 0;
      for (let r = s; r < nullity; r++) {
        const v = Math.abs(V[r * n + col]!);
        if (v > best) {
          best = v;
          row = r;
        }
      }
      if (best > 1e-6 * largest) break;
    }
    // A null basis has full rank, so some entry always clears the bar; this guards the indexing.
    if (col < 0) throw new RangeError('leastSquares: the null-space basis lost its rank');
    for (let j = 0; j < n; j++) {
      const t = V[s * n + j]!;
      V[s * n + j] = V[row * n + j]!;
      V[row * n + j] = t;
    }
    const pivot = V[s * n + col]!;
    for (let r = s + 1; r < nullity; r++) {
      const f = V[r * n + col]! / pivot;
      if (f === 0) continue;
      for (let j = 0; j < n; j++) V[r * n + j] = V[r * n + j]! - f * V[s * n + j]!;
      V[r * n + col] = 0;
    }
    for (let j = 0; j < n; j++) V[s * n + j] = 0;
    out[s] = col;
  }
  return out.sort();
}
