/**
 * L-BFGS: limited-memory quasi-Newton minimisation of a smooth function, driven from the driver
 * while the loss and gradient may come from a distributed pass over the data (Spark MLlib's
 * pattern). The objective may therefore be async; the loop awaits it and nothing else.
 *
 * The method follows Nocedal & Wright, Numerical Optimization (2nd ed.): the two-loop recursion
 * (Alg. 7.4) with the initial Hessian scaled by sᵀy / yᵀy (eq. 7.20), and a line search that
 * enforces the strong Wolfe conditions by bracketing and zooming (Alg. 3.5 and 3.6) with
 * safeguarded cubic interpolation. The stopping tests mirror scipy's L-BFGS-B (`pgtol`, `factr`),
 * so tolerances taken from scikit-learn or scipy mean the same thing here.
 *
 * Names: `n` is the number of parameters, `x` the iterate, `g` its gradient, `f` its value, `p` the
 * search direction, `s = x₊ − x` and `y = g₊ − g` the pairs kept in memory, `m` their number.
 */

import { ConvergenceError, ParamError } from '../errors.ts';
import { dotUnchecked, nrm2 } from '../linalg/index.ts';
import {
  InverseHessianMemory,
  maxAbs,
  resolveQuasiNewtonOptions,
  steepestDescent,
  stopAfterStep,
} from './quasi-newton.ts';

/**
 * The function to minimise: writes ∇f(x) into `gradient` and returns f(x), possibly as a promise.
 * It must not keep `x` or `gradient` past its return (or the settling of its promise): the
 * optimizer reuses both buffers for later evaluations.
 */
export type Objective = (x: Float64Array, gradient: Float64Array) => number | Promise<number>;

/** Why {@link minimizeLbfgs} stopped. */
export type LbfgsStopReason =
  /** max |gᵢ| ≤ gradientTolerance: converged */
  | 'gradient'
  /** the last step reduced f by a relative amount ≤ relativeFunctionTolerance: converged */
  | 'function'
  /** maxIterations steps taken */
  | 'max-iterations'
  /** maxEvaluations objective calls made */
  | 'max-evaluations'
  /** no step along the search direction (nor along −g) lowered f enough: usually rounding noise */
  | 'line-search';

/** What {@link LbfgsOptions.onIteration} is told after each step. */
export interface LbfgsIteration {
  /** Steps taken so far, from 1. */
  iteration: number;
  /** f at the new iterate. */
  f: number;
  /** max |gᵢ| at the new iterate: the quantity compared with `gradientTolerance`. */
  gradientNorm: number;
  /** Objective calls so far, including the one at the starting point. */
  evaluations: number;
  /** The new iterate: a live buffer, valid during the callback only; copy it to keep it. */
  x: Float64Array;
}

/** Options of {@link minimizeLbfgs}. */
export interface LbfgsOptions {
  /**
   * Most steps to take.
   * @defaultValue 100
   */
  maxIterations?: number;
  /**
   * Number m of (s, y) pairs kept to model the inverse Hessian.
   * @defaultValue 10
   */
  memory?: number;
  /**
   * Stop when max |gᵢ| ≤ gradientTolerance. Absolute, like scipy's `pgtol` (L-BFGS-B's
   * projected-gradient test without bounds) and scikit-learn's `tol` for lbfgs.
   * @defaultValue 1e-5
   */
  gradientTolerance?: number;
  /**
   * Stop when a step lowers f from f₀ to f₁ with (f₀ − f₁) / max(|f₀|, |f₁|, 1) ≤ this. scipy's
   * `factr · ε`; 0 turns the test off except for steps that do not lower f at all.
   * @defaultValue 1e7 · 2⁻⁵² ≈ 2.2e-9 (scipy's factr = 1e7)
   */
  relativeFunctionTolerance?: number;
  /**
   * Most objective calls, counting the one at the starting point; a line search that runs out
   * keeps the best point it found.
   * @defaultValue 15000 (scipy's maxfun)
   */
  maxEvaluations?: number;
  /** Called after every step, and awaited, so it may write a checkpoint. */
  onIteration?: (info: LbfgsIteration) => void | Promise<void>;
}

/** The outcome of {@link minimizeLbfgs}. */
export interface LbfgsResult {
  /** The last accepted iterate (a new array: `x0` is never modified). */
  x: Float64Array;
  /** f(x). */
  f: number;
  /** ∇f(x). */
  gradient: Float64Array;
  /** Steps taken. */
  iterations: number;
  /** Objective calls made, including the one at the starting point. */
  evaluations: number;
  /** Whether the gradient or function tolerance was met. */
  converged: boolean;
  /** Why the loop stopped. */
  reason: LbfgsStopReason;
}

/** Sufficient-decrease (Armijo) constant c₁ of the Wolfe conditions. */
const C1 = 1e-4;
/** Curvature constant c₂ of the strong Wolfe conditions; 0.9 suits quasi-Newton steps. */
const C2 = 0.9;
/** Objective calls allowed per line search (scipy's maxls). */
const MAX_LINE_SEARCH_EVALUATIONS = 20;
/** Interpolated trial steps keep this fraction of the bracket's width away from its ends. */
const SAFEGUARD = 0.1;
/** After a non-finite trial, the next one is this fraction of the way from the good end. */
const NON_FINITE_SHRINK = 0.1;

/**
 * Minimises `objective` from `x0` by L-BFGS with a strong-Wolfe line search.
 *
 * The first step along −g has length 1 (step size 1/‖g‖), later ones start from the quasi-Newton
 * step size 1. A pair (s, y) is skipped when yᵀs ≤ ε·‖y‖·‖s‖, which keeps the inverse-Hessian model
 * positive definite. When a line search fails, the memory is dropped and the search retried once
 * along −g. A trial point where f or the gradient is not finite counts as "too far" and the step
 * shrinks. The same inputs give bit-identical results.
 *
 * @throws ParamError for an invalid option or a non-finite `x0`
 * @throws ConvergenceError when f or the gradient is not finite at `x0`
 */
export async function minimizeLbfgs(
  objective: Objective,
  x0: Float64Array,
  options: LbfgsOptions = {},
): Promise<LbfgsResult> {
  const resolved = resolveQuasiNewtonOptions('minimizeLbfgs', options);
  const { maxIterations, m, gradientTolerance, maxEvaluations } = resolved;
  const n = x0.length;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(x0[i]!)) {
      throw new ParamError(`minimizeLbfgs: x0[${i}] is ${x0[i]}`, 'the starting point must be finite');
    }
  }
  const search = new LineSearch(objective, n, maxEvaluations);
  let x: Float64Array = x0.slice();
  let g: Float64Array = new Float64Array(n);
  let f = await search.evaluateAt(x, g);
  if (!Number.isFinite(f)) {
    throw new ConvergenceError(
      `L-BFGS: the objective returned f = ${f} at the starting point`,
      'check the data and the starting point for NaN or infinite values, and the loss for overflow',
    );
  }
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(g[i]!)) {
      throw new ConvergenceError(
        `L-BFGS: gradient[${i}] is ${g[i]} at the starting point (f = ${f})`,
        'check the data and the starting point for NaN or infinite values, and the gradient for overflow',
      );
    }
  }

  const memory = new InverseHessianMemory(n, m);
  const p = new Float64Array(n);
  let iterations = 0;
  let reason: LbfgsStopReason | undefined;
  if (maxAbs(g) <= gradientTolerance) reason = 'gradient';
  else if (maxIterations === 0) reason = 'max-iterations';
  while (reason === undefined) {
    let dphi0 = memory.direction(g, p);
    if (!(dphi0 < 0)) {
      // The model points uphill (rounding in a badly conditioned memory): start it afresh.
      memory.clear();
      dphi0 = steepestDescent(g, p);
    }
    // Without curvature information p = −g, and the first trial step has unit length.
    const alpha0 = memory.size === 0 ? 1 / nrm2(g) : 1;
    let outcome = await search.run(x, f, p, dphi0, alpha0);
    if (outcome === 'failed' && memory.size > 0) {
      memory.clear();
      dphi0 = steepestDescent(g, p);
      outcome = await search.run(x, f, p, dphi0, 1 / nrm2(g));
    }
    if (outcome === 'failed') {
      reason = 'line-search';
      break;
    }
    if (outcome === 'no-budget') {
      reason = 'max-evaluations';
      break;
    }
    // The accepted point sits in the search's best buffers: swap it in.
    memory.push(x, g, search.bestX, search.bestG);
    const fPrevious = f;
    [x, search.bestX] = [search.bestX, x];
    [g, search.bestG] = [search.bestG, g];
    f = search.bestF;
    iterations++;
    const gradientNorm = maxAbs(g);
    await options.onIteration?.({
      iteration: iterations,
      f,
      gradientNorm,
      evaluations: search.evaluations,
      x,
    });
    reason = stopAfterStep(resolved, {
      fPrevious,
      f,
      gradientNorm,
      iterations,
      evaluations: search.evaluations,
    });
  }
  return {
    x,
    f,
    gradient: g,
    iterations,
    evaluations: search.evaluations,
    converged: reason === 'gradient' || reason === 'function',
    reason,
  };
}

/**
 * How a line search ended: `'ok'` at a strong-Wolfe point, `'sufficient'` at a point with
 * sufficient decrease only (evaluations ran out first), `'failed'` with no acceptable point,
 * `'no-budget'` when the optimizer's evaluation budget ran out before any acceptable point.
 * After `'ok'` and `'sufficient'` the point is in `bestX`, `bestG`, `bestF`.
 */
type LineSearchOutcome = 'ok' | 'sufficient' | 'failed' | 'no-budget';

/**
 * The strong-Wolfe line search along x + α·p, φ(α) = f(x + α·p), φ'(α) = ∇f(x + α·p)ᵀp.
 *
 * It keeps a bracket [lo, hi]: lo is the best step so far that satisfies sufficient decrease
 * (starting at α = 0), hi a step known to be too long, or none yet (then steps double).
 */
class LineSearch {
  /** Objective calls made, over the whole optimisation. */
  evaluations = 0;
  /** The best accepted point of the last search. */
  bestX: Float64Array;
  bestG: Float64Array;
  bestF = Number.NaN;
  private trialX: Float64Array;
  private trialG: Float64Array;

  constructor(
    private readonly objective: Objective,
    n: number,
    private readonly maxEvaluations: number,
  ) {
    this.bestX = new Float64Array(n);
    this.bestG = new Float64Array(n);
    this.trialX = new Float64Array(n);
    this.trialG = new Float64Array(n);
  }

  /** One counted objective call. */
  async evaluateAt(x: Float64Array, g: Float64Array): Promise<number> {
    this.evaluations++;
    return await this.objective(x, g);
  }

  /** Searches from (x, f0) along p, whose slope φ'(0) = dphi0 < 0, starting with step alpha0. */
  async run(
    x: Float64Array,
    f0: number,
    p: Float64Array,
    dphi0: number,
    alpha0: number,
  ): Promise<LineSearchOutcome> {
    const n = x.length;
    let loA = 0;
    let loF = f0;
    let loD = dphi0;
    let hiA = 0;
    let hiF = 0;
    let hiD = 0;
    let bracketed = false;
    let hiFinite = false;
    let alpha = alpha0;
    for (let k = 0; k < MAX_LINE_SEARCH_EVALUATIONS; k++) {
      if (this.evaluations >= this.maxEvaluations) return loA > 0 ? 'sufficient' : 'no-budget';
      const xt = this.trialX;
      const gt = this.trialG;
      for (let i = 0; i < n; i++) xt[i] = x[i]! + alpha * p[i]!;
      const f = await this.evaluateAt(xt, gt);
      // A non-finite gradient entry makes the slope NaN or infinite, so this one test covers both.
      const dphi = dotUnchecked(n, gt, 0, p, 0);
      if (!Number.isFinite(f) || !Number.isFinite(dphi)) {
        hiA = alpha;
        bracketed = true;
        hiFinite = false;
      } else if (f > f0 + C1 * alpha * dphi0 || f >= loF) {
        hiA = alpha;
        hiF = f;
        hiD = dphi;
        bracketed = true;
        hiFinite = true;
      } else {
        this.keepTrial(f);
        if (Math.abs(dphi) <= -C2 * dphi0) return 'ok';
        if (bracketed ? dphi * (hiA - loA) >= 0 : dphi >= 0) {
          // The minimum lies back towards the old lo.
          hiA = loA;
          hiF = loF;
          hiD = loD;
          bracketed = true;
          hiFinite = true;
        }
        loA = alpha;
        loF = f;
        loD = dphi;
      }
      if (!bracketed) alpha = 2 * alpha;
      else if (!hiFinite) alpha = loA + NON_FINITE_SHRINK * (hiA - loA);
      else alpha = interpolate(loA, loF, loD, hiA, hiF, hiD);
      // A bracket narrower than rounding cannot produce a different point.
      if (bracketed && Math.abs(hiA - loA) <= Number.EPSILON * Math.max(Math.abs(loA), Math.abs(hiA))) break;
    }
    return loA > 0 ? 'sufficient' : 'failed';
  }

  /** Makes the last trial the best point, by swapping buffers rather than copying. */
  private keepTrial(f: number): void {
    [this.bestX, this.trialX] = [this.trialX, this.bestX];
    [this.bestG, this.trialG] = [this.trialG, this.bestG];
    this.bestF = f;
  }
}

/**
 * A trial step strictly inside the bracket between a (φ, φ') = (fa, da) and b (fb, db): the
 * minimiser of the cubic through both ends (Nocedal & Wright eq. 3.59), or of the quadratic through
 * fa, da and fb when the cubic has none, or the midpoint; each is used only when it lies at least
 * SAFEGUARD × width away from both ends, so the bracket keeps shrinking.
 */
function interpolate(a: number, fa: number, da: number, b: number, fb: number, db: number): number {
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  const margin = SAFEGUARD * (hi - lo);
  const d1 = da + db - (3 * (fa - fb)) / (a - b);
  const d2 = Math.sign(b - a) * Math.sqrt(d1 * d1 - da * db);
  const cubic = b - ((b - a) * (db + d2 - d1)) / (db - da + 2 * d2);
  if (cubic >= lo + margin && cubic <= hi - margin) return cubic;
  const h = b - a;
  const quadratic = a - (da * h * h) / (2 * (fb - fa - da * h));
  if (quadratic >= lo + margin && quadratic <= hi - margin) return quadratic;
  return 0.5 * (a + b);
}
