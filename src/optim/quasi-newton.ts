/**
 * What L-BFGS and OWL-QN share: option defaults and checks, the stopping tests, and the memory of
 * (s, y) pairs with its two-loop recursion (Nocedal & Wright, Numerical Optimization, Alg. 7.4,
 * with H₀ = sᵀy / yᵀy, eq. 7.20). Internal to `optim`: the barrel does not export it.
 */

import { ParamError } from '../errors.ts';
import { axpy, dotUnchecked } from '../linalg/index.ts';
import type { LbfgsStopReason } from './lbfgs.ts';

/** The options both optimizers take, as documented on `LbfgsOptions`. */
export interface QuasiNewtonOptions {
  maxIterations?: number;
  memory?: number;
  gradientTolerance?: number;
  relativeFunctionTolerance?: number;
  maxEvaluations?: number;
}

/** {@link QuasiNewtonOptions} with defaults filled in and checked. */
export interface ResolvedQuasiNewtonOptions {
  maxIterations: number;
  m: number;
  gradientTolerance: number;
  relativeFunctionTolerance: number;
  maxEvaluations: number;
}

/**
 * Fills in scipy's defaults (100 iterations, m = 10, pgtol 1e-5, factr 1e7, maxfun 15000).
 * @param optimizer the public function's name, so that errors point at what the caller called
 * @throws ParamError naming the option and its bad value
 */
export function resolveQuasiNewtonOptions(
  optimizer: string,
  options: QuasiNewtonOptions,
): ResolvedQuasiNewtonOptions {
  const maxIterations = options.maxIterations ?? 100;
  const m = options.memory ?? 10;
  const gradientTolerance = options.gradientTolerance ?? 1e-5;
  const relativeFunctionTolerance = options.relativeFunctionTolerance ?? 1e7 * Number.EPSILON;
  const maxEvaluations = options.maxEvaluations ?? 15000;
  const requireInteger = (name: string, value: number, min: number): void => {
    if (!Number.isSafeInteger(value) || value < min) {
      throw new ParamError(`${optimizer}: ${name} must be an integer ≥ ${min}, got ${value}`);
    }
  };
  const requireTolerance = (name: string, value: number): void => {
    if (!(value >= 0) || value === Number.POSITIVE_INFINITY) {
      throw new ParamError(`${optimizer}: ${name} must be a finite number ≥ 0, got ${value}`);
    }
  };
  requireInteger('maxIterations', maxIterations, 0);
  requireInteger('memory', m, 1);
  requireInteger('maxEvaluations', maxEvaluations, 1);
  requireTolerance('gradientTolerance', gradientTolerance);
  requireTolerance('relativeFunctionTolerance', relativeFunctionTolerance);
  return { maxIterations, m, gradientTolerance, relativeFunctionTolerance, maxEvaluations };
}

/**
 * The stopping tests after an accepted step, in scipy's order: the (pseudo-)gradient test, the
 * relative decrease of f, then the budgets. Returns undefined to go on.
 */
export function stopAfterStep(
  o: ResolvedQuasiNewtonOptions,
  step: { fPrevious: number; f: number; gradientNorm: number; iterations: number; evaluations: number },
): LbfgsStopReason | undefined {
  const scale = Math.max(Math.abs(step.fPrevious), Math.abs(step.f), 1);
  if (step.gradientNorm <= o.gradientTolerance) return 'gradient';
  if (step.fPrevious - step.f <= o.relativeFunctionTolerance * scale) return 'function';
  if (step.iterations >= o.maxIterations) return 'max-iterations';
  if (step.evaluations >= o.maxEvaluations) return 'max-evaluations';
  return undefined;
}

/** max |vᵢ|: the norm both optimizers' gradient tests use (scipy's pgtol). */
export function maxAbs(v: Float64Array): number {
  let max = 0;
  for (let i = 0; i < v.length; i++) {
    const a = Math.abs(v[i]!);
    if (a > max) max = a;
  }
  return max;
}

/** p ← −v; returns the slope vᵀp = −‖v‖². */
export function steepestDescent(v: Float64Array, p: Float64Array): number {
  for (let i = 0; i < v.length; i++) p[i] = -v[i]!;
  return -dotUnchecked(v.length, v, 0, v, 0);
}

/** The last m pairs (s, y) in ring buffers, and the two-loop recursion over them. */
export class InverseHessianMemory {
  private readonly S: Float64Array;
  private readonly Y: Float64Array;
  private readonly rho: Float64Array;
  private readonly a: Float64Array;
  /** Slot of the oldest pair. */
  private oldest = 0;
  /** Number of pairs held. */
  size = 0;

  constructor(
    private readonly n: number,
    private readonly m: number,
  ) {
    this.S = new Float64Array(m * n);
    this.Y = new Float64Array(m * n);
    this.rho = new Float64Array(m);
    this.a = new Float64Array(m);
  }

  clear(): void {
    this.size = 0;
    this.oldest = 0;
  }

  /**
   * Stores s = x₊ − x and y = g₊ − g (smooth gradients), dropping the oldest pair when full.
   * Skips the pair when yᵀs ≤ ε·‖y‖·‖s‖: such a pair carries no usable curvature and would make
   * H indefinite.
   */
  push(x: Float64Array, g: Float64Array, xNext: Float64Array, gNext: Float64Array): void {
    const n = this.n;
    let ys = 0;
    let yy = 0;
    let ss = 0;
    for (let i = 0; i < n; i++) {
      const s = xNext[i]! - x[i]!;
      const y = gNext[i]! - g[i]!;
      ys += y * s;
      yy += y * y;
      ss += s * s;
    }
    if (!(ys > Number.EPSILON * Math.sqrt(yy) * Math.sqrt(ss))) return;
    const slot = (this.oldest + this.size) % this.m;
    if (this.size === this.m) this.oldest = (this.oldest + 1) % this.m;
    else this.size++;
    const off = slot * n;
    for (let i = 0; i < n; i++) {
      this.S[off + i] = xNext[i]! - x[i]!;
      this.Y[off + i] = gNext[i]! - g[i]!;
    }
    this.rho[slot] = 1 / ys;
  }

  /** p ← −H·v by the two-loop recursion (when empty: p = −v); returns the slope vᵀp. */
  direction(v: Float64Array, p: Float64Array): number {
    const { n, m, S, Y, rho, a } = this;
    p.set(v);
    for (let t = this.size - 1; t >= 0; t--) {
      const slot = (this.oldest + t) % m;
      a[slot] = rho[slot]! * dotUnchecked(n, S, slot * n, p, 0);
      axpy(-a[slot]!, Y, p, n, slot * n, 0);
    }
    if (this.size > 0) {
      const newest = (this.oldest + this.size - 1) % m;
      // γ = sᵀy / yᵀy = 1 / (ρ·yᵀy)
      const gamma = 1 / (rho[newest]! * dotUnchecked(n, Y, newest * n, Y, newest * n));
      for (let i = 0; i < n; i++) p[i] = gamma * p[i]!;
    }
    for (let t = 0; t < this.size; t++) {
      const slot = (this.oldest + t) % m;
      const beta = rho[slot]! * dotUnchecked(n, Y, slot * n, p, 0);
      axpy(a[slot]! - beta, S, p, n, slot * n, 0);
    }
    for (let i = 0; i < n; i++) p[i] = -p[i]!;
    return dotUnchecked(n, v, 0, p, 0);
  }
}
