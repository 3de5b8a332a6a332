/**
 * The driver side of every least-squares model (ordinary, ridge, lasso, elastic net): one pass of
 * the normal-equations kernel sums XᵀX, Xᵀy and the column sums over all partitions; the driver
 * centres them, which takes the unpenalised intercept out of the system, and solves.
 *
 * Names: n rows, d features, G = XᵀX (d×d), q = Xᵀy, μ the column means, ȳ the target mean.
 */
import type { DistributedMatrix, Engine } from '../../engine/engine.ts';
import { DistmlError } from '../../errors.ts';
import { choleskyFailedPivot, choleskySolve, mirrorUpper } from '../../linalg/index.ts';
import type { TrainingData } from '../estimator.ts';
import { LINEAR_NORMAL_EQUATIONS } from './linear.kernels.ts';

/** The (centred) normal equations of a training set, as one data pass gives them. */
export interface NormalEquations {
  /** Features d. */
  readonly d: number;
  /** Rows n; the sum of the sample weights when weighted. */
  readonly n: number;
  /** G = XᵀX, both triangles filled, row-major d×d; centred (XᵀX − n·μμᵀ) when `centred`. */
  readonly gram: Float64Array;
  /** q = Xᵀy; centred (Xᵀy − n·μ·ȳ) when `centred`. */
  readonly xty: Float64Array;
  /** diag(XᵀX) before centring: what centring cancels against, for the condition estimate. */
  readonly rawDiagonal: Float64Array;
  /** Σx per column. */
  readonly colSums: Float64Array;
  /** Σy. */
  readonly sumY: number;
  /** yᵀy of the (centred, when `centred`) target: what a zero model leaves as squared residual. */
  readonly yy: number;
  /** Whether the sums are centred, i.e. the model has an intercept. */
  readonly centred: boolean;
}

/**
 * Sums the normal equations over every partition of `matrix` in one pass and, for a model with an
 * intercept, centres them on the driver.
 *
 * @param weighted - the matrix's last column holds sample weights (see {@link TrainingData}); the
 *   sums are then weighted and `n` is Σw
 */
export async function normalEquations(
  engine: Engine,
  matrix: DistributedMatrix,
  fitIntercept: boolean,
  weighted = false,
): Promise<NormalEquations> {
  const d = weighted ? matrix.cols - 1 : matrix.cols;
  const sums = await engine.treeReduce(LINEAR_NORMAL_EQUATIONS, matrix, { weighted });
  const gram = sums.slice(0, d * d);
  mirrorUpper(gram, d);
  const xty = sums.slice(d * d, d * d + d);
  const colSums = sums.slice(d * d + d, d * d + 2 * d);
  const sumY = sums[d * d + 2 * d]!;
  const sumYY = sums[d * d + 2 * d + 1]!;
  const n = sums[d * d + 2 * d + 2]!;
  const rawDiagonal = new Float64Array(d);
  for (let j = 0; j < d; j++) rawDiagonal[j] = gram[j * d + j]!;
  if (fitIntercept) {
    // XᵀX − n·μμᵀ and Xᵀy − n·μ·ȳ: the sums of the centred data, without a second pass.
    for (let a = 0; a < d; a++) {
      const ma = colSums[a]! / n;
      xty[a]! -= ma * sumY;
      for (let b = 0; b < d; b++) gram[a * d + b]! -= ma * colSums[b]!;
    }
  }
  const yy = fitIntercept ? sumYY - (sumY * sumY) / n : sumYY;
  return { d, n, gram, xty, rawDiagonal, colSums, sumY, yy, centred: fitIntercept };
}

/**
 * Solves (G + ridge·I)·w = q by Cholesky on a copy of G.
 *
 * @throws DistmlError (CONVERGENCE) naming the first feature that is (numerically) a linear
 *   combination of the others: a pivot keeping less than 1e-10 of its column's diagonal
 */
export function solveNormalEquations(system: NormalEquations, ridge = 0): Float64Array {
  const { d } = system;
  const L = system.gram.slice();
  const diagonal = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    L[j * d + j]! += ridge;
    diagonal[j] = L[j * d + j]!;
  }
  const pivot = factorOrFindCollinear(L, diagonal, d);
  if (pivot !== -1) {
    throw new DistmlError(
      'CONVERGENCE',
      ridge === 0
        ? `the design matrix is rank deficient: feature ${pivot} (0-based, after preprocessing) is a linear combination of the others`
        : `the penalised normal equations are singular at feature ${pivot} (0-based, after preprocessing) with alpha ${ridge}`,
      ridge === 0
        ? 'remove duplicated or constant columns; penalized models (ridge) handle this too'
        : 'raise alpha, or remove duplicated columns',
    );
  }
  const w = system.xty.slice();
  choleskySolve(L, d, w);
  return w;
}

/**
 * Above this estimated condition number of the scaled Gram matrix, linear regression leaves the
 * normal equations for TSQR. The normal equations lose about log₁₀ κ(XᵀX) = 2·log₁₀ κ(X) digits;
 * at 1e8 they still keep about 8 of the 16, enough for the 1e-4 relative agreement with
 * scikit-learn the models promise, with a margin for the estimate being a lower bound.
 */
export const GRAM_CONDITION_LIMIT = 1e8;

/** What {@link solveIfWellConditioned} returns. */
export interface GramSolve {
  /** The solution, or undefined when the system is too ill-conditioned to trust it. */
  readonly coef: Float64Array | undefined;
  /**
   * Estimated condition number, free of the features' units: (max ℓⱼⱼ / min ℓⱼⱼ)² over the
   * Cholesky factor of G scaled to unit diagonal (a lower bound of its κ₂), times the largest loss
   * to centring, max Σxⱼ² / Σ(xⱼ − x̄ⱼ)² (a column far from zero but nearly constant is nearly
   * collinear with the intercept, and the centred sums keep few of its digits). Infinity when a
   * centred column is constant or the factorisation breaks down.
   */
  readonly condition: number;
}

/** Solves G·w = q by Cholesky when G's estimated condition is at most `limit`. */
export function solveIfWellConditioned(system: NormalEquations, limit = GRAM_CONDITION_LIMIT): GramSolve {
  const { d } = system;
  const L = system.gram.slice();
  const failed = choleskyFailedPivot(L, d);
  if (failed >= 0) return { coef: undefined, condition: Number.POSITIVE_INFINITY };
  // The Cholesky factor of D^-½·G·D^-½ is D^-½·L, so its diagonal is ℓⱼⱼ/√Gⱼⱼ: one factorisation
  // gives both the solution and the scale-free estimate.
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  let centring = 1;
  for (let j = 0; j < d; j++) {
    const g = system.gram[j * d + j]!;
    const l = L[j * d + j]!;
    const scaled = g > 0 ? (l * l) / g : 0;
    lo = Math.min(lo, scaled);
    hi = Math.max(hi, scaled);
    centring = Math.max(centring, g > 0 ? system.rawDiagonal[j]! / g : Number.POSITIVE_INFINITY);
  }
  const condition = d === 0 ? 1 : lo > 0 ? (hi / lo) * centring : Number.POSITIVE_INFINITY;
  if (!(condition <= limit)) return { coef: undefined, condition };
  const w = system.xty.slice();
  choleskySolve(L, d, w);
  return { coef: w, condition };
}

/** The intercept that goes with `coef`: ȳ − μ·w for centred equations, 0 otherwise. */
export function interceptOf(system: NormalEquations, coef: Float64Array): number {
  if (!system.centred) return 0;
  let s = 0;
  for (let j = 0; j < system.d; j++) s += system.colSums[j]! * coef[j]!;
  return (system.sumY - s) / system.n;
}

/**
 * Factors G in place. Exactly collinear columns leave a pivot of rounding size rather than 0, so
 * a pivot keeping less than 1e-10 of its diagonal counts as a failure too.
 * @returns -1 on success, else the index of the collinear feature
 */
function factorOrFindCollinear(gram: Float64Array, diagonal: Float64Array, d: number): number {
  const failed = choleskyFailedPivot(gram, d);
  if (failed >= 0) return failed;
  for (let j = 0; j < d; j++) {
    const l = gram[j * d + j]!;
    if (l * l <= 1e-10 * diagonal[j]!) return j;
  }
  return -1;
}
