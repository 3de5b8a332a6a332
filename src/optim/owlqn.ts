/**
 * OWL-QN: orthant-wise limited-memory quasi-Newton minimisation of F(x) = f(x) + λ·Σ_{i∈S} |xᵢ|,
 * with f smooth and S a set of penalised coordinates (Andrew & Gao, "Scalable training of
 * L1-regularized log-linear models", ICML 2007). Like {@link minimizeLbfgs} it runs on the driver
 * and awaits an objective that may be a distributed pass.
 *
 * F is not differentiable where a penalised xᵢ = 0, but it is on each orthant. OWL-QN therefore
 * 1. replaces ∇F by the pseudo-gradient ◇F, the steepest-descent direction's negative (its
 *    one-sided derivative where xᵢ = 0 and the sign's choice lowers F, else 0);
 * 2. takes the L-BFGS direction p = −H·◇F, with H built from pairs of *smooth* gradients (the
 *    L1 term is linear on an orthant, so it adds no curvature), and zeroes the penalised pᵢ whose
 *    sign disagrees with −◇Fᵢ, which keeps p a descent direction;
 * 3. searches backwards along the path π(x + α·p), where π zeroes every penalised coordinate that
 *    would leave the orthant of x (or, where xᵢ = 0, of −◇F). This is what produces exact zeros.
 *
 * The stopping tests match {@link minimizeLbfgs}'s, with ◇F in place of the gradient.
 *
 * Names: `n` parameters, `x` the iterate, `g` the smooth gradient ∇f, `pg` the pseudo-gradient,
 * `p` the search direction, `s = x₊ − x` and `y = g₊ − g` the pairs in memory, `m` their number.
 */

import { ConvergenceError, ParamError } from '../errors.ts';
import { nrm2 } from '../linalg/index.ts';
import type { LbfgsIteration, LbfgsStopReason, Objective } from './lbfgs.ts';
import {
  InverseHessianMemory,
  maxAbs,
  resolveQuasiNewtonOptions,
  steepestDescent,
  stopAfterStep,
} from './quasi-newton.ts';

/** The L1 term λ·Σ_{i∈S} |xᵢ| of the objective {@link minimizeOwlqn} minimises. */
export interface L1Penalty {
  /** λ ≥ 0. */
  readonly strength: number;
  /**
   * S as a mask over the parameters: 1 = penalised, 0 = free (an intercept, say).
   * @defaultValue every coordinate penalised
   */
  readonly mask?: Uint8Array;
}

/** Options of {@link minimizeOwlqn}: {@link minimizeLbfgs}'s, with ◇F in place of ∇f. */
export interface OwlqnOptions {
  /**
   * Most steps to take.
   * @defaultValue 100
   */
  maxIterations?: number;
  /**
   * Number m of (s, y) pairs kept to model the inverse Hessian of the smooth part.
   * @defaultValue 10
   */
  memory?: number;
  /**
   * Stop when max |◇Fᵢ| ≤ gradientTolerance (absolute). ◇F = 0 exactly at the minimum, so this
   * is the L1 analogue of L-BFGS's gradient test.
   * @defaultValue 1e-5
   */
  gradientTolerance?: number;
  /**
   * Stop when a step lowers F from F₀ to F₁ with (F₀ − F₁) / max(|F₀|, |F₁|, 1) ≤ this; 0 turns
   * the test off except for steps that do not lower F at all.
   * @defaultValue 1e7 · 2⁻⁵² ≈ 2.2e-9 (as {@link minimizeLbfgs})
   */
  relativeFunctionTolerance?: number;
  /**
   * Most objective calls, counting the one at the starting point.
   * @defaultValue 15000
   */
  maxEvaluations?: number;
  /** Called after every step, and awaited; `gradientNorm` is max |◇Fᵢ|, `f` is F. */
  onIteration?: (info: LbfgsIteration) => void | Promise<void>;
}

/** The outcome of {@link minimizeOwlqn}. */
export interface OwlqnResult {
  /** The last accepted iterate (a new array: `x0` is never modified). */
  x: Float64Array;
  /** F(x) = f(x) + λ·Σ_{i∈S} |xᵢ|. */
  f: number;
  /** ◇F(x). */
  pseudoGradient: Float64Array;
  /** Steps taken. */
  iterations: number;
  /** Objective calls made, including the one at the starting point. */
  evaluations: number;
  /** Whether the gradient or function tolerance was met. */
  converged: boolean;
  /** Why the loop stopped (`'gradient'` refers to ◇F). */
  reason: LbfgsStopReason;
}

/** Sufficient-decrease constant of the backtracking line search (Andrew & Gao's γ). */
const C1 = 1e-4;
/** Backtracking shrinks the step by this factor. */
const SHRINK = 0.5;
/** Objective calls allowed per line search: 2⁻³⁰ ≈ 1e-9 of the first trial step. */
const MAX_LINE_SEARCH_EVALUATIONS = 30;

/**
 * Minimises f(x) + λ·Σ_{i∈S} |xᵢ| from `x0` by OWL-QN. `objective` computes the smooth part f and
 * its gradient only; the L1 term is handled here.
 *
 * The first step along −◇F has length 1, later ones start from the quasi-Newton step size 1 and
 * halve until F falls by at least C1·◇Fᵀ(x₊ − x). When a line search fails, the memory is dropped
 * and the search retried once along −◇F. A trial point where f is not finite counts as too far.
 * With λ = 0 this is L-BFGS with a backtracking (Armijo) line search. The same inputs give
 * bit-identical results.
 *
 * @throws ParamError for an invalid option, a negative or non-finite λ, a mask of the wrong
 *   length, or a non-finite `x0`
 * @throws ConvergenceError when f or its gradient is not finite at `x0`
 */
export async function minimizeOwlqn(
  objective: Objective,
  x0: Float64Array,
  l1: L1Penalty,
  options: OwlqnOptions = {},
): Promise<OwlqnResult> {
  const resolved = resolveQuasiNewtonOptions('minimizeOwlqn', options);
  const { maxIterations, m, gradientTolerance, maxEvaluations } = resolved;
  const n = x0.length;
  const lambda = l1.strength;
  if (!(lambda >= 0) || lambda === Number.POSITIVE_INFINITY) {
    throw new ParamError(`minimizeOwlqn: the L1 strength must be a finite number ≥ 0, got ${lambda}`);
  }
  const mask = l1.mask ?? new Uint8Array(n).fill(1);
  if (mask.length !== n) {
    throw new ParamError(
      `minimizeOwlqn: the L1 mask has ${mask.length} entries for ${n} parameters`,
      'give one entry per parameter: 1 = penalised, 0 = free',
    );
  }
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(x0[i]!)) {
      throw new ParamError(`minimizeOwlqn: x0[${i}] is ${x0[i]}`, 'the starting point must be finite');
    }
  }
  const problem = new Problem(objective, lambda, mask, maxEvaluations);
  let x: Float64Array = x0.slice();
  let g: Float64Array = new Float64Array(n);
  let f = await problem.evaluate(x, g);
  if (!Number.isFinite(f)) {
    throw new ConvergenceError(
      `OWL-QN: the objective returned f = ${f} at the starting point`,
      'check the data and the starting point for NaN or infinite values, and the loss for overflow',
    );
  }
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(g[i]!)) {
      throw new ConvergenceError(
        `OWL-QN: gradient[${i}] is ${g[i]} at the starting point (f = ${f})`,
        'check the data and the starting point for NaN or infinite values, and the gradient for overflow',
      );
    }
  }
  let pg: Float64Array = new Float64Array(n);
  problem.pseudoGradient(x, g, pg);

  const memory = new InverseHessianMemory(n, m);
  const p = new Float64Array(n);
  let xNext: Float64Array = new Float64Array(n);
  let gNext: Float64Array = new Float64Array(n);
  let pgNext: Float64Array = new Float64Array(n);
  let iterations = 0;
  let reason: LbfgsStopReason | undefined;
  if (maxAbs(pg) <= gradientTolerance) reason = 'gradient';
  else if (maxIterations === 0) reason = 'max-iterations';
  while (reason === undefined) {
    memory.direction(pg, p);
    let slope = problem.constrainDirection(pg, p);
    if (!(slope < 0)) {
      // Rounding in a badly conditioned memory, or every component cut by the sign constraint.
      memory.clear();
      slope = steepestDescent(pg, p);
    }
    let fNext = await problem.search(x, f, pg, p, memory.size === 0 ? 1 / nrm2(p) : 1, xNext, gNext);
    if (fNext === 'failed' && memory.size > 0) {
      memory.clear();
      steepestDescent(pg, p);
      fNext = await problem.search(x, f, pg, p, 1 / nrm2(p), xNext, gNext);
    }
    if (fNext === 'failed') {
      reason = 'line-search';
      break;
    }
    if (fNext === 'no-budget') {
      reason = 'max-evaluations';
      break;
    }
    memory.push(x, g, xNext, gNext);
    problem.pseudoGradient(xNext, gNext, pgNext);
    const fPrevious = f;
    [x, xNext] = [xNext, x];
    [g, gNext] = [gNext, g];
    [pg, pgNext] = [pgNext, pg];
    f = fNext;
    iterations++;
    const gradientNorm = maxAbs(pg);
    await options.onIteration?.({
      iteration: iterations,
      f,
      gradientNorm,
      evaluations: problem.evaluations,
      x,
    });
    reason = stopAfterStep(resolved, {
      fPrevious,
      f,
      gradientNorm,
      iterations,
      evaluations: problem.evaluations,
    });
  }
  return {
    x,
    f,
    pseudoGradient: pg,
    iterations,
    evaluations: problem.evaluations,
    converged: reason === 'gradient' || reason === 'function',
    reason,
  };
}

type SearchOutcome = number | 'failed' | 'no-budget';

/** The objective with its L1 term: evaluation, pseudo-gradient, projections and line search. */
class Problem {
  /** Objective calls made, over the whole optimisation. */
  evaluations = 0;
  /** Orthant of the current search: sign(xᵢ), or sign(−◇Fᵢ) where xᵢ = 0. */
  private readonly orthant: Float64Array;

  constructor(
    private readonly objective: Objective,
    private readonly lambda: number,
    private readonly mask: Uint8Array,
    private readonly maxEvaluations: number,
  ) {
    this.orthant = new Float64Array(mask.length);
  }

  /** F(x) = f(x) + λ‖x_S‖₁; writes ∇f(x) (the smooth gradient) into g. */
  async evaluate(x: Float64Array, g: Float64Array): Promise<number> {
    this.evaluations++;
    const f = await this.objective(x, g);
    let l1 = 0;
    for (let i = 0; i < x.length; i++) if (this.mask[i] !== 0) l1 += Math.abs(x[i]!);
    return f + this.lambda * l1;
  }

  /**
   * pg ← ◇F(x): ∇f plus λ·sign(xᵢ) off zero; at a penalised xᵢ = 0, the one-sided derivative
   * gᵢ ± λ that is negative in its direction of travel, or 0 when neither side lowers F.
   */
  pseudoGradient(x: Float64Array, g: Float64Array, pg: Float64Array): void {
    const lambda = this.lambda;
    for (let i = 0; i < x.length; i++) {
      const gi = g[i]!;
      const xi = x[i]!;
      if (this.mask[i] === 0) pg[i] = gi;
      else if (xi > 0) pg[i] = gi + lambda;
      else if (xi < 0) pg[i] = gi - lambda;
      else if (gi + lambda < 0) pg[i] = gi + lambda;
      else if (gi - lambda > 0) pg[i] = gi - lambda;
      else pg[i] = 0;
    }
  }

  /**
   * Zeroes each penalised pᵢ whose sign is not that of −◇Fᵢ, and returns the slope ◇Fᵀp. The cut
   * components each contributed a non-negative term, so a descent direction stays one.
   */
  constrainDirection(pg: Float64Array, p: Float64Array): number {
    let slope = 0;
    for (let i = 0; i < p.length; i++) {
      if (this.mask[i] !== 0 && p[i]! * pg[i]! >= 0) p[i] = 0;
      slope += pg[i]! * p[i]!;
    }
    return slope;
  }

  /**
   * Backtracks along π(x + α·p) from α = alpha0 until F(x₊) ≤ F(x) + C1·◇F(x)ᵀ(x₊ − x). On
   * success returns F(x₊), with x₊ in `xOut` and ∇f(x₊) in `gOut`.
   */
  async search(
    x: Float64Array,
    f0: number,
    pg: Float64Array,
    p: Float64Array,
    alpha0: number,
    xOut: Float64Array,
    gOut: Float64Array,
  ): Promise<SearchOutcome> {
    const n = x.length;
    const { mask, orthant } = this;
    for (let i = 0; i < n; i++) {
      const xi = x[i]!;
      orthant[i] = xi !== 0 ? Math.sign(xi) : -Math.sign(pg[i]!);
    }
    let alpha = alpha0;
    for (let k = 0; k < MAX_LINE_SEARCH_EVALUATIONS; k++) {
      if (this.evaluations >= this.maxEvaluations) return 'no-budget';
      let decrease = 0;
      let moved = false;
      for (let i = 0; i < n; i++) {
        let xi = x[i]! + alpha * p[i]!;
        // Crossing zero would change the L1 term's slope: stop the coordinate at zero instead.
        if (mask[i] !== 0 && xi * orthant[i]! <= 0) xi = 0;
        xOut[i] = xi;
        decrease += pg[i]! * (xi - x[i]!);
        if (xi !== x[i]) moved = true;
      }
      // A step too short to change x in floating point cannot lower F: further halving is futile.
      if (!moved) return 'failed';
      const f = await this.evaluate(xOut, gOut);
      if (Number.isFinite(f) && f <= f0 + C1 * decrease && allFinite(gOut)) return f;
      alpha *= SHRINK;
    }
    return 'failed';
  }
}

function allFinite(v: Float64Array): boolean {
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) return false;
  return true;
}
