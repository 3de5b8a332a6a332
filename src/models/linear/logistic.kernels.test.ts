import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { DesignMatrix } from '../../data/design-matrix.ts';
import { getKernel } from '../../engine/kernel-registry.ts';
import { dotUnchecked } from '../../linalg/blas.ts';
import { LOGISTIC_LOSS_GRADIENT } from './logistic.kernels.ts';

// The kernel updates the gradient a block of rows at a time. These references update it one row at
// a time, the plain way; the blocked kernel must give the same bits, for any row count (whole
// blocks and a tail), with and without class weights.

function binaryByRow(
  part: DesignMatrix,
  coef: Float64Array,
  weights: Float64Array | undefined,
): Float64Array {
  const { rows: n, cols: d, X, y } = part;
  const out = new Float64Array(d + 2);
  const b = coef[d]!;
  for (let i = 0; i < n; i++) {
    const z = dotUnchecked(d, X, i * d, coef, 0) + b;
    const yi = y[i]!;
    const wi = weights === undefined ? 1 : weights[yi]!;
    const e = Math.exp(-Math.abs(z));
    out[0] = out[0]! + wi * ((z > 0 ? z + Math.log1p(e) : Math.log1p(e)) - yi * z);
    const residual = wi * ((z >= 0 ? 1 / (1 + e) : e / (1 + e)) - yi);
    for (let j = 0; j < d; j++) out[1 + j] = out[1 + j]! + residual * X[i * d + j]!;
    out[1 + d] = out[1 + d]! + residual;
  }
  return out;
}

function multinomialByRow(
  part: DesignMatrix,
  coef: Float64Array,
  k: number,
  weights: Float64Array | undefined,
): Float64Array {
  const { rows: n, cols: d, X, y } = part;
  const out = new Float64Array(1 + k * (d + 1));
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: k }, (_, c) => dotUnchecked(d, X, i * d, coef, c * d) + coef[k * d + c]!);
    const max = Math.max(...z);
    const yi = y[i]!;
    const wi = weights === undefined ? 1 : weights[yi]!;
    const e = z.map((zc) => Math.exp(zc - max));
    let sum = 0;
    for (const ec of e) sum += ec;
    out[0] = out[0]! + wi * (Math.log(sum) - (z[yi]! - max));
    for (let c = 0; c < k; c++) {
      const residual = wi * (e[c]! / sum - (c === yi ? 1 : 0));
      for (let j = 0; j < d; j++) out[1 + c * d + j] = out[1 + c * d + j]! + residual * X[i * d + j]!;
      out[1 + k * d + c] = out[1 + k * d + c]! + residual;
    }
  }
  return out;
}

test('logistic.lossGradient blocked by rows gives the bits of a row-by-row loop, binary and multinomial', () => {
  const kernel = getKernel(LOGISTIC_LOSS_GRADIENT);
  fc.assert(
    fc.property(fc.gen(), (g) => {
      const n = g(fc.integer, { min: 0, max: 13 });
      const d = g(fc.integer, { min: 1, max: 6 });
      const k = g(fc.integer, { min: 2, max: 4 });
      const r = k === 2 ? 1 : k;
      const value = () => g(fc.double, { min: -4, max: 4, noNaN: true });
      const X = Float64Array.from({ length: n * d }, value);
      const y = Float64Array.from({ length: n }, () => g(fc.integer, { min: 0, max: k - 1 }));
      const coef = Float64Array.from({ length: r * (d + 1) }, value);
      const weighted = g(fc.boolean);
      const weights = weighted
        ? Float64Array.from({ length: k }, () => g(fc.double, { min: 0.1, max: 3, noNaN: true }))
        : undefined;
      const part: DesignMatrix = { rows: n, cols: d, X, y };
      const out = new Float64Array(kernel.resultLength({ coef, rowsOfCoef: r }, d));
      kernel.run(
        part,
        { coef, rowsOfCoef: r, ...(weights === undefined ? {} : { classWeight: weights }) },
        out,
      );
      const expected = r === 1 ? binaryByRow(part, coef, weights) : multinomialByRow(part, coef, k, weights);
      assert.deepEqual(out, expected);
    }),
  );
});
