/**
 * Cyclic coordinate descent for the elastic net on the Gram matrix ("covariance updates", Friedman,
 * Hastie & Tibshirani 2010, §2.2): it never touches the data, only G = XᵀX (d×d) and q = Xᵀy, so
 * the data pass that sums them can be distributed and the iterations cost O(d²) a sweep on the
 * driver, whatever the number of rows.
 *
 * It minimises P(w) = ½·wᵀGw − qᵀw + ½·yᵀy + l1·‖w‖₁ + (l2/2)·‖w‖²  (= ½‖y − Xw‖² + penalties)
 * and follows scikit-learn's `enet_coordinate_descent_gram` (sklearn/linear_model/_cd_fast.pyx)
 * step for step: the same update order, the same test on the largest coordinate change, and the same
 * duality gap as the final stopping test, so `tol` and `maxIter` mean what they mean there and the
 * iterates agree with scikit-learn's to rounding.
 *
 * Names: d features, w the coefficients, H = G·w kept up to date, yy = yᵀy.
 */
import { axpy } from '../../linalg/index.ts';

/** Options of {@link gramCoordinateDescent}. */
export interface GramCoordinateDescentOptions {
  /** L1 weight l1 ≥ 0 (scikit-learn's alpha·l1_ratio·n). */
  readonly l1: number;
  /** L2 weight l2 ≥ 0 (scikit-learn's alpha·(1 − l1_ratio)·n). */
  readonly l2: number;
  /** Most sweeps over the coordinates. */
  readonly maxIter: number;
  /**
   * A sweep whose largest coordinate change is below tol·max|w| triggers the duality-gap test,
   * which stops once the gap is ≤ tol·yy.
   */
  readonly tol: number;
  /** Called after every sweep with its number (from 1) and P(w). */
  readonly onSweep?: (sweep: number, objective: number) => void;
}

/** What {@link gramCoordinateDescent} found. */
export interface GramCoordinateDescentResult {
  readonly coef: Float64Array;
  /** Sweeps run (scikit-learn's `n_iter_`). */
  readonly sweeps: number;
  /** Whether the duality gap fell to the tolerance. */
  readonly converged: boolean;
  /** The last duality gap computed. */
  readonly gap: number;
  /** The gap the fit had to reach: tol·yy. */
  readonly gapTolerance: number;
  /** P(w) at the returned coefficients. */
  readonly objective: number;
}

/**
 * Minimises the elastic-net objective from w = 0.
 *
 * @param G - XᵀX, row-major d×d, both triangles filled; not modified
 * @param q - Xᵀy, length d; not modified
 * @param yy - yᵀy (of the centred target when G and q are centred)
 */
export function gramCoordinateDescent(
  G: Float64Array,
  q: Float64Array,
  yy: number,
  d: number,
  options: GramCoordinateDescentOptions,
): GramCoordinateDescentResult {
  const { l1, l2, maxIter, tol, onSweep } = options;
  const w = new Float64Array(d);
  const H = new Float64Array(d);
  const gapTolerance = tol * yy;
  let gap = Number.POSITIVE_INFINITY;
  let converged = false;
  let sweep = 0;
  while (sweep < maxIter) {
    sweep++;
    let wMax = 0;
    let dwMax = 0;
    for (let j = 0; j < d; j++) {
      const gjj = G[j * d + j]!;
      // A zero column (constant, after centring) has no effect on the fit; its coefficient stays 0.
      if (gjj === 0) continue;
      const old = w[j]!;
      if (old !== 0) axpy(-old, G, H, d, j * d, 0);
      // Soft-threshold the partial residual correlation: the exact minimiser along coordinate j.
      const z = q[j]! - H[j]!;
      const shrunk = Math.abs(z) - l1;
      const wj = shrunk > 0 ? (Math.sign(z) * shrunk) / (gjj + l2) : 0;
      w[j] = wj;
      if (wj !== 0) axpy(wj, G, H, d, j * d, 0);
      const change = Math.abs(wj - old);
      if (change > dwMax) dwMax = change;
      if (Math.abs(wj) > wMax) wMax = Math.abs(wj);
    }
    onSweep?.(sweep, objectiveAt(w, H, q, yy, l1, l2, d));
    if (wMax === 0 || dwMax / wMax < tol || sweep === maxIter) {
      gap = dualityGap(w, H, q, yy, l1, l2, d);
      if (gap <= gapTolerance) {
        converged = true;
        break;
      }
    }
  }
  return {
    coef: w,
    sweeps: sweep,
    converged,
    gap,
    gapTolerance,
    objective: objectiveAt(w, H, q, yy, l1, l2, d),
  };
}

/** P(w), with ‖y − Xw‖² = yy + wᵀH − 2·qᵀw. */
function objectiveAt(
  w: Float64Array,
  H: Float64Array,
  q: Float64Array,
  yy: number,
  l1: number,
  l2: number,
  d: number,
): number {
  let wH = 0;
  let qw = 0;
  let abs = 0;
  let ww = 0;
  for (let j = 0; j < d; j++) {
    const wj = w[j]!;
    wH += wj * H[j]!;
    qw += q[j]! * wj;
    abs += Math.abs(wj);
    ww += wj * wj;
  }
  return 0.5 * (yy + wH - 2 * qw) + l1 * abs + 0.5 * l2 * ww;
}

/**
 * The gap between P(w) and the dual objective at the dual point built from the residual, scaled
 * into the dual feasible set (scikit-learn's formula). It bounds P(w) − min P from above.
 */
function dualityGap(
  w: Float64Array,
  H: Float64Array,
  q: Float64Array,
  yy: number,
  l1: number,
  l2: number,
  d: number,
): number {
  let dualNorm = 0;
  let qw = 0;
  let wH = 0;
  let abs = 0;
  let ww = 0;
  for (let j = 0; j < d; j++) {
    const wj = w[j]!;
    // Xᵀ(y − Xw) − l2·w: the correlations the dual point has to keep within l1.
    const xtaj = Math.abs(q[j]! - H[j]! - l2 * wj);
    if (xtaj > dualNorm) dualNorm = xtaj;
    qw += wj * q[j]!;
    wH += wj * H[j]!;
    abs += Math.abs(wj);
    ww += wj * wj;
  }
  const residual2 = yy + wH - 2 * qw;
  let scale = 1;
  let gap = residual2;
  if (dualNorm > l1) {
    scale = l1 / dualNorm;
    gap = 0.5 * (residual2 + residual2 * scale * scale);
  }
  return gap + l1 * abs - scale * yy + scale * qw + 0.5 * l2 * (1 + scale * scale) * ww;
}
