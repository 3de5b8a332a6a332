/**
 * Worker-side kernel of the linear support vector classifier: the summed squared hinge loss and
 * its gradient over one partition, for all r one-vs-rest problems in one pass over the rows.
 *
 * Notation: X is the n×d partition (row-major), y its class indices, θ = [W (r×d, row-major) | b (r)].
 * Row c of W scores "class c against the rest" (label sᵢ = +1 when yᵢ = c, else −1), except in a
 * binary model (r = 1), whose single row scores class 1 against class 0. The loss of row c on
 * sample i is max(0, 1 − sᵢ·zᵢ)², with zᵢ = w_c·xᵢ + b_c.
 */

import type { DesignMatrix } from '../../data/design-matrix.ts';
import { type KernelArgs, registerKernel } from '../../engine/kernel-registry.ts';
import { dotUnchecked } from '../../linalg/blas.ts';

/** Registry name of the squared-hinge loss-and-gradient kernel. */
export const SVC_LOSS_GRADIENT = 'svc.lossGradient';

/** Arguments of {@link SVC_LOSS_GRADIENT}. */
export interface SvcArgs extends KernelArgs {
  /** θ = [W | b], length r·d + r. */
  readonly coef: Float64Array;
  /** Coefficient rows r: 1 for a binary model, k (one per class) for one-vs-rest. */
  readonly rowsOfCoef: number;
}

registerKernel({
  name: SVC_LOSS_GRADIENT,
  resultLength: (args, cols) => 1 + (args.rowsOfCoef as number) * (cols + 1),
  run(part: DesignMatrix, args: KernelArgs, out: Float64Array): void {
    squaredHingeLossGradient(part, args.coef as Float64Array, args.rowsOfCoef as number, out);
  },
});

/**
 * out += [Σ loss, ∂/∂W (r×d), ∂/∂b (r)], summed over the rows of `part` and the r problems.
 *
 * Only rows inside the margin (1 − s·z > 0) contribute: ∂/∂z of (1 − s·z)² is −2·s·(1 − s·z), so
 * well-classified rows cost one dot product per problem and nothing more.
 */
function squaredHingeLossGradient(
  part: DesignMatrix,
  coef: Float64Array,
  r: number,
  out: Float64Array,
): void {
  const { rows: n, cols: d, X, y } = part;
  const biasAt = r * d;
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const off = i * d;
    const yi = y[i]!;
    for (let c = 0; c < r; c++) {
      const s = yi === (r === 1 ? 1 : c) ? 1 : -1;
      const margin = 1 - s * (dotUnchecked(d, X, off, coef, c * d) + coef[biasAt + c]!);
      if (margin <= 0) continue;
      loss += margin * margin;
      const g = -2 * s * margin;
      const w = 1 + c * d;
      for (let j = 0; j < d; j++) out[w + j]! += g * X[off + j]!;
      out[1 + biasAt + c]! += g;
    }
  }
  out[0]! += loss;
}
