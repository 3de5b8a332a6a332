/**
 * Cholesky factorisation A = L·Lᵀ of a symmetric positive definite matrix, and the triangular
 * solves that use it: the exact solver for the normal equations of linear and ridge regression.
 *
 * Names: `A` and `L` are `d × d` row-major; `L` is lower triangular and overwrites the lower
 * triangle of `A` in place; `b` is a right-hand side of length d, overwritten by the solution.
 * Only lower triangles are read, so a Gram matrix from `gramUpper` must be mirrored first.
 */

import { DataValueError } from '../errors.ts';
import { checkSpan, dotUnchecked } from './blas.ts';

/**
 * Factors A = L·Lᵀ in place: the lower triangle of `A` (diagonal included) becomes L. The strict
 * upper triangle is neither read nor written.
 *
 * @param relativeTolerance - see {@link choleskyFailedPivot}
 * @returns `true` on success; `false` when A is not (numerically) positive definite, in which case
 *   A holds a partial factor and {@link choleskyFailedPivot} would have said where it failed.
 */
export function cholesky(A: Float64Array, d: number, relativeTolerance = 0): boolean {
  return choleskyFailedPivot(A, d, relativeTolerance) < 0;
}

/**
 * {@link cholesky}, reporting where it failed, for an error that names the collinear feature.
 *
 * @param relativeTolerance - a pivot must exceed this fraction of its original diagonal entry. The
 *   default 0 is LAPACK's test (pivot > 0). Exactly collinear columns usually leave a pivot of
 *   rounding size, ±1e-16 of the diagonal, rather than exactly 0; pass e.g. `1e-12` to report those
 *   as failures instead of solving with huge, meaningless coefficients.
 * @returns -1 on success; otherwise the index of the first column whose pivot failed (≤ the
 *   tolerance, or NaN), so A's leading block of that size is the largest one that factors. A then
 *   holds a partial factor with the failing pivot's value left on its diagonal, as LAPACK's dpotrf
 *   leaves it.
 */
export function choleskyFailedPivot(A: Float64Array, d: number, relativeTolerance = 0): number {
  checkSpan('cholesky A', A, 0, d * d);
  // Row-oriented (Cholesky–Crout): every inner product runs along two contiguous rows of L.
  for (let i = 0; i < d; i++) {
    const ri = i * d;
    for (let j = 0; j < i; j++) {
      const rj = j * d;
      A[ri + j] = (A[ri + j]! - dotUnchecked(j, A, ri, A, rj)) / A[rj + j]!;
    }
    const diagonal = A[ri + i]!;
    const pivot = diagonal - dotUnchecked(i, A, ri, A, ri);
    if (!(pivot > 0 && pivot > relativeTolerance * diagonal)) {
      A[ri + i] = pivot;
      return i;
    }
    A[ri + i] = Math.sqrt(pivot);
  }
  return -1;
}

/**
 * Solves L·x = b in place (forward substitution): `b` becomes x, and is returned. Reads only L's
 * lower triangle.
 */
export function solveLower(L: Float64Array, d: number, b: Float64Array): Float64Array {
  checkSpan('solveLower L', L, 0, d * d);
  checkSpan('solveLower b', b, 0, d);
  for (let i = 0; i < d; i++) {
    b[i] = (b[i]! - dotUnchecked(i, L, i * d, b, 0)) / L[i * d + i]!;
  }
  return b;
}

/**
 * Solves Lᵀ·x = b in place (back substitution): `b` becomes x, and is returned. Reads only L's
 * lower triangle.
 *
 * Column i of Lᵀ is row i of L, so each step subtracts a multiple of a contiguous row of L rather
 * than walking L by columns.
 */
export function solveUpperTransposed(L: Float64Array, d: number, b: Float64Array): Float64Array {
  checkSpan('solveUpperTransposed L', L, 0, d * d);
  checkSpan('solveUpperTransposed b', b, 0, d);
  for (let i = d - 1; i >= 0; i--) {
    const ri = i * d;
    const xi = b[i]! / L[ri + i]!;
    b[i] = xi;
    for (let k = 0; k < i; k++) b[k] = b[k]! - xi * L[ri + k]!;
  }
  return b;
}

/**
 * Solves (L·Lᵀ)·x = b in place, given the factor from {@link cholesky}: `b` becomes x, and is
 * returned.
 */
export function choleskySolve(L: Float64Array, d: number, b: Float64Array): Float64Array {
  return solveUpperTransposed(L, d, solveLower(L, d, b));
}

/** Options of {@link solveSymmetric}. */
export interface SolveSymmetricOptions {
  /**
   * Added to every diagonal entry before factoring: (A + ridge·I)·x = b.
   * @defaultValue 0
   */
  ridge?: number;
  /**
   * Passed to {@link choleskyFailedPivot}: pivots at or below this fraction of their diagonal
   * entry count as zero, so the matrix is reported as singular.
   * @defaultValue 0
   */
  relativeTolerance?: number;
}

/**
 * Solves A·x = b for a symmetric positive definite `d × d` matrix A and returns x in a new array.
 * A and b are left untouched (A is copied); only A's lower triangle is read.
 *
 * @throws DataValueError when A + ridge·I is not positive definite, naming the failing pivot
 */
export function solveSymmetric(
  A: Float64Array,
  d: number,
  b: Float64Array,
  options: SolveSymmetricOptions = {},
): Float64Array {
  const ridge = options.ridge ?? 0;
  if (!(ridge >= 0) || ridge === Number.POSITIVE_INFINITY) {
    throw new RangeError(`solveSymmetric: ridge must be a finite number ≥ 0, got ${ridge}`);
  }
  checkSpan('solveSymmetric A', A, 0, d * d);
  checkSpan('solveSymmetric b', b, 0, d);
  const L = A.slice(0, d * d);
  if (ridge !== 0) for (let i = 0; i < d; i++) L[i * d + i] = L[i * d + i]! + ridge;
  const failed = choleskyFailedPivot(L, d, options.relativeTolerance ?? 0);
  if (failed >= 0) {
    const pivot = L[failed * d + failed];
    throw new DataValueError(
      `solveSymmetric: the ${d} × ${d} matrix (ridge ${ridge}) is not positive definite: ` +
        `Cholesky pivot ${failed} is ${pivot}`,
      `column ${failed} is a linear combination of the columns before it, or the matrix holds NaN; ` +
        'drop that column or add a ridge penalty',
    );
  }
  const x = b.slice(0, d);
  choleskySolve(L, d, x);
  return x;
}
