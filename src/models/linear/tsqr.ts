/**
 * Least squares by a distributed tall-skinny QR: each partition factors its block [1 | X | y], the
 * engine folds the factors pairwise in its fixed tree order, and the driver solves the small
 * triangular system that remains. Accurate where the normal equations are not, since it works
 * with X itself rather than XᵀX, whose condition number is squared; and it gives the
 * minimum-norm answer, with the dependent features named, when X is rank deficient.
 *
 * Names: d features, p = [1 +] d + 1 columns of the block, R the p×p factor. With an intercept,
 * R = [[r₁₁, r₁ₓ, r₁ᵧ], [0, Rₓₓ, rₓᵧ], [0, 0, ρ]]: Rₓₓ is the R factor of the centred X (the
 * column of ones projected out) and rₓᵧ the centred target rotated alike, so the centred problem
 * min ‖Xc·w − yc‖ is min ‖Rₓₓ·w − rₓᵧ‖, and the intercept is (r₁ᵧ − r₁ₓ·w)/r₁₁, i.e. ȳ − x̄·w.
 */
import type { DistributedMatrix, Engine } from '../../engine/engine.ts';
import { leastSquares } from '../../linalg/index.ts';
import { LINEAR_TSQR, tsqrWidth } from './linear.kernels.ts';

/** What {@link solveByTsqr} returns. */
export interface TsqrSolution {
  readonly coef: Float64Array;
  readonly intercept: number;
  /** Numerical rank of the (centred) design. */
  readonly rank: number;
  /** Features (0-based, after preprocessing) that are linear combinations of the others. */
  readonly dependent: Int32Array;
}

/**
 * One TSQR pass over `matrix`, then the minimum-norm least-squares solution from its R factor: the
 * coefficients numpy.linalg.lstsq gives on the centred data, as scikit-learn's LinearRegression
 * computes them.
 *
 * @param weighted - the matrix's last column holds sample weights
 */
export async function solveByTsqr(
  engine: Engine,
  matrix: DistributedMatrix,
  fitIntercept: boolean,
  weighted: boolean,
): Promise<TsqrSolution> {
  const d = weighted ? matrix.cols - 1 : matrix.cols;
  const p = tsqrWidth(d, fitIntercept);
  const q = fitIntercept ? 1 : 0;
  const R = await engine.treeReduce(LINEAR_TSQR, matrix, { intercept: fitIntercept, weighted });
  const Rxx = new Float64Array(d * d);
  const rxy = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) Rxx[i * d + j] = R[(q + i) * p + q + j]!;
    rxy[i] = R[(q + i) * p + p - 1]!;
  }
  // Rank is judged against the uncentred columns' norms, √(r₁ₓⱼ² + ‖Rₓₓ[:, j]‖²): a constant
  // feature is then as dependent as it is on the intercept, instead of its centred rounding noise
  // passing for a direction of its own. Without an intercept these are Rₓₓ's own column norms.
  const columnScale = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    let ss = 0;
    for (let i = 0; i <= q + j; i++) ss += R[i * p + q + j]! ** 2;
    columnScale[j] = Math.sqrt(ss);
  }
  const { x: coef, rank, dependent } = leastSquares(Rxx, d, d, rxy, { columnScale });
  let intercept = 0;
  if (fitIntercept) {
    let s = R[p - 1]!;
    for (let j = 0; j < d; j++) s -= R[1 + j]! * coef[j]!;
    intercept = s / R[0]!;
  }
  return { coef, intercept, rank, dependent };
}
