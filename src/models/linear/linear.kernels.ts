/**
 * Worker-side kernel of exact least squares: one pass over a partition returns the sums from which
 * the driver forms the normal equations.
 *
 * Layout of the result for d features: [XᵀX (d×d, upper triangle filled) | Xᵀy (d) | Σx (d) | Σy | Σy² | n].
 */
import type { DesignMatrix } from '../../data/design-matrix.ts';
import { type KernelArgs, registerKernel } from '../../engine/kernel-registry.ts';
import { gemvT } from '../../linalg/blas.ts';
import { gramUpper } from '../../linalg/syrk.ts';

/** Registry name of the normal-equations kernel. */
export const LINEAR_NORMAL_EQUATIONS = 'linear.normalEquations';

/** Length of the kernel's result for d features. */
export function normalEquationsLength(d: number): number {
  return d * d + 2 * d + 3;
}

registerKernel({
  name: LINEAR_NORMAL_EQUATIONS,
  resultLength: (_args: KernelArgs, cols: number) => normalEquationsLength(cols),
  run(part: DesignMatrix, _args: KernelArgs, out: Float64Array): void {
    const { rows: n, cols: d, X, y } = part;
    gramUpper(X, n, d, out.subarray(0, d * d));
    const xty = out.subarray(d * d, d * d + d);
    gemvT(n, d, X, y, xty, 1, 1);
    const colSums = out.subarray(d * d + d, d * d + 2 * d);
    for (let i = 0; i < n; i++) {
      const off = i * d;
      for (let j = 0; j < d; j++) colSums[j]! += X[off + j]!;
    }
    let sy = 0;
    let syy = 0;
    for (let i = 0; i < n; i++) {
      const v = y[i]!;
      sy += v;
      syy += v * v;
    }
    const tail = d * d + 2 * d;
    out[tail] = sy;
    out[tail + 1] = syy;
    out[tail + 2] = n;
  },
});
