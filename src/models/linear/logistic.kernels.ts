/**
 * Worker-side kernels of logistic regression: the summed (optionally class-weighted) log loss and
 * its gradient over one partition, for binary (sigmoid, one coefficient row) and multinomial
 * (softmax, k rows) models; and the class counts that balanced class weights are made from.
 *
 * Notation: X is the n×d partition (row-major), y its class indices, θ = [W (r×d, row-major) | b (r)]
 * with r = 1 for binary and r = k for multinomial models, ω the k class weights.
 */

import type { DesignMatrix } from '../../data/design-matrix.ts';
import { type KernelArgs, registerKernel } from '../../engine/kernel-registry.ts';
import { axpyRowsUnchecked, dotUnchecked } from '../../linalg/blas.ts';

/** Registry name of the loss-and-gradient kernel. */
export const LOGISTIC_LOSS_GRADIENT = 'logistic.lossGradient';

/** Registry name of the class-count kernel: out[c] = number of rows of class c. */
export const LOGISTIC_CLASS_COUNTS = 'logistic.classCounts';

/** Arguments of {@link LOGISTIC_LOSS_GRADIENT}. */
export type LogisticArgs = KernelArgs & {
  /** θ = [W | b], length r·d + r. */
  readonly coef: Float64Array;
  /** Coefficient rows r: 1 for a binary model, k for a multinomial one. */
  readonly rowsOfCoef: number;
  /**
   * ω: the weight of each of the k classes (k = 2 for a binary model). Each row's loss and
   * gradient are multiplied by the weight of its class. Absent means every weight is 1.
   */
  readonly classWeight?: Float64Array;
};

/** Arguments of {@link LOGISTIC_CLASS_COUNTS}. */
export interface ClassCountArgs extends KernelArgs {
  /** Number of classes k. */
  readonly classes: number;
}

registerKernel({
  name: LOGISTIC_LOSS_GRADIENT,
  resultLength: (args, cols) => 1 + (args.rowsOfCoef as number) * (cols + 1),
  run(part: DesignMatrix, args: KernelArgs, out: Float64Array): void {
    const coef = args.coef as Float64Array;
    const r = args.rowsOfCoef as number;
    const weights = args.classWeight as Float64Array | undefined;
    if (r === 1) binaryLossGradient(part, coef, weights, out);
    else multinomialLossGradient(part, coef, r, weights, out);
  },
});

registerKernel({
  name: LOGISTIC_CLASS_COUNTS,
  resultLength: (args) => args.classes as number,
  run(part: DesignMatrix, _args: KernelArgs, out: Float64Array): void {
    const y = part.y;
    for (let i = 0; i < part.rows; i++) out[y[i]!]! += 1;
  },
});

/**
 * Rows per block of the gradient update: the residuals of a block are found first, then added to
 * the gradient in one pass over it (axpyRowsUnchecked), in row order, so blocking changes no bit.
 */
const ROW_BLOCK = 4;

/** out = [Σ ω·loss, ∂/∂w (d), ∂/∂b] for the sigmoid model. */
function binaryLossGradient(
  part: DesignMatrix,
  coef: Float64Array,
  weights: Float64Array | undefined,
  out: Float64Array,
): void {
  const { rows: n, cols: d, X, y } = part;
  const b = coef[d]!;
  const residuals = new Float64Array(ROW_BLOCK);
  let loss = 0;
  let gb = 0;
  for (let start = 0; start < n; start += ROW_BLOCK) {
    const block = Math.min(ROW_BLOCK, n - start);
    for (let t = 0; t < block; t++) {
      const i = start + t;
      const z = dotUnchecked(d, X, i * d, coef, 0) + b;
      const yi = y[i]!;
      // Multiplying by exactly 1 when there are no weights keeps unweighted fits bit-identical.
      const wi = weights === undefined ? 1 : weights[yi]!;
      // One exponential serves the loss and the probability: e = e^−|z| ∈ (0, 1] never overflows.
      // log(1 + e^z) = max(z, 0) + log1p(e), and σ(z) = 1/(1 + e) or e/(1 + e) by the sign of z:
      // the same operations as evaluating each side on its own, so the result is bit for bit the same.
      const e = Math.exp(-Math.abs(z));
      loss += wi * ((z > 0 ? z + Math.log1p(e) : Math.log1p(e)) - yi * z);
      const p = z >= 0 ? 1 / (1 + e) : e / (1 + e);
      const residual = wi * (p - yi);
      residuals[t] = residual;
      gb += residual;
    }
    axpyRowsUnchecked(d, block, residuals, 0, X, start * d, out, 1);
  }
  out[0] = loss;
  out[1 + d] = gb;
}

/** out = [Σ ω·loss, ∂/∂W (k×d), ∂/∂b (k)] for the softmax model. */
function multinomialLossGradient(
  part: DesignMatrix,
  coef: Float64Array,
  k: number,
  weights: Float64Array | undefined,
  out: Float64Array,
): void {
  const { rows: n, cols: d, X, y } = part;
  const z = new Float64Array(k);
  // Class-major: the residuals of class c for the block's rows are residuals[c·ROW_BLOCK + t].
  const residuals = new Float64Array(k * ROW_BLOCK);
  const biasAt = k * d;
  let loss = 0;
  for (let start = 0; start < n; start += ROW_BLOCK) {
    const block = Math.min(ROW_BLOCK, n - start);
    for (let t = 0; t < block; t++) {
      const i = start + t;
      const off = i * d;
      let max = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < k; c++) {
        const zc = dotUnchecked(d, X, off, coef, c * d) + coef[biasAt + c]!;
        z[c] = zc;
        if (zc > max) max = zc;
      }
      const yi = y[i]!;
      const wi = weights === undefined ? 1 : weights[yi]!;
      const zy = z[yi]! - max;
      let sum = 0;
      for (let c = 0; c < k; c++) {
        const e = Math.exp(z[c]! - max);
        z[c] = e;
        sum += e;
      }
      // −log softmax(z)_y = log Σ e^(z_c − max) − (z_y − max); z now holds e^(z_c − max).
      loss += wi * (Math.log(sum) - zy);
      for (let c = 0; c < k; c++) {
        const residual = wi * (z[c]! / sum - (c === yi ? 1 : 0));
        residuals[c * ROW_BLOCK + t] = residual;
        out[1 + biasAt + c]! += residual;
      }
    }
    for (let c = 0; c < k; c++)
      axpyRowsUnchecked(d, block, residuals, c * ROW_BLOCK, X, start * d, out, 1 + c * d);
  }
  out[0] = loss;
}
