/**
 * Kernels on typed arrays: the bottom layer of distml. Flat loops over `Float64Array`, results
 * written into buffers the caller provides; nothing here imports from another layer.
 */

export { axpy, axpyRowsUnchecked, checkSpan, dot, dotUnchecked, gemv, gemvT, nrm2, scal } from './blas.ts';
export type { SolveSymmetricOptions } from './cholesky.ts';
export {
  cholesky,
  choleskyFailedPivot,
  choleskySolve,
  solveLower,
  solveSymmetric,
  solveUpperTransposed,
} from './cholesky.ts';
export type { LeastSquaresOptions, LeastSquaresSolution } from './qr.ts';
export {
  applyQ,
  applyQt,
  defaultRcond,
  householderQr,
  leastSquares,
  pivotedQr,
  qrStackRows,
  solveUpper,
} from './qr.ts';
export { gramUpper, mirrorUpper } from './syrk.ts';
