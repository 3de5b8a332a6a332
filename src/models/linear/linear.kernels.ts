/**
 * Worker-side kernels of exact least squares.
 *
 * `linear.normalEquations`: one pass over a partition returns the sums from which the driver forms
 * the normal equations. Layout for d features:
 * [XᵀX (d×d, upper triangle filled) | Xᵀy (d) | Σx (d) | Σy | Σy² | n].
 *
 * `linear.tsqr`: one pass returns the R factor of the partition's block [1 | X | y] (the column of
 * ones only with an intercept), and the engine folds the partitions' factors into the R factor of
 * the whole data set (a tall-skinny QR). It costs about twice the normal equations' pass, but never
 * squares the condition number of X.
 *
 * With `weighted: true` the partition's last column holds each row's sample weight wᵢ instead of a
 * feature: every sum is then weighted (n becomes Σw), and the QR factors the rows scaled by √wᵢ,
 * since Σ wᵢ·rᵢ² = ‖diag(√w)·r‖².
 */
import type { DesignMatrix } from '../../data/design-matrix.ts';
import { type KernelArgs, registerKernel } from '../../engine/kernel-registry.ts';
import { gemvT } from '../../linalg/blas.ts';
import { qrStackRows } from '../../linalg/qr.ts';
import { gramUpper } from '../../linalg/syrk.ts';

/** Registry name of the normal-equations kernel. */
export const LINEAR_NORMAL_EQUATIONS = 'linear.normalEquations';

/** Registry name of the tall-skinny QR kernel. */
export const LINEAR_TSQR = 'linear.tsqr';

/** Length of the normal-equations kernel's result for d features. */
export function normalEquationsLength(d: number): number {
  return d * d + 2 * d + 3;
}

/** Columns of the TSQR block for d features: [1 |] X | y. */
export function tsqrWidth(d: number, intercept: boolean): number {
  return d + (intercept ? 1 : 0) + 1;
}

/** Features of a partition: its columns, minus the weight column when weighted. */
function featuresOf(cols: number, args: KernelArgs): number {
  return args.weighted === true ? cols - 1 : cols;
}

/** Rows scaled by √w are gathered this many at a time, so a block fits in cache. */
const BLOCK_ROWS = 256;

registerKernel({
  name: LINEAR_NORMAL_EQUATIONS,
  resultLength: (args: KernelArgs, cols: number) => normalEquationsLength(featuresOf(cols, args)),
  run(part: DesignMatrix, args: KernelArgs, out: Float64Array): void {
    if (args.weighted === true) weightedNormalEquations(part, out);
    else normalEquations(part, out);
  },
});

function normalEquations(part: DesignMatrix, out: Float64Array): void {
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
}

/** The same sums weighted: Σw·xxᵀ from blocks of rows scaled by √w, so the blocked syrk still runs. */
function weightedNormalEquations(part: DesignMatrix, out: Float64Array): void {
  const { rows: n, cols, X, y } = part;
  const d = cols - 1;
  const gram = out.subarray(0, d * d);
  const xty = out.subarray(d * d, d * d + d);
  const colSums = out.subarray(d * d + d, d * d + 2 * d);
  const block = new Float64Array(BLOCK_ROWS * d);
  let sw = 0;
  let sy = 0;
  let syy = 0;
  for (let start = 0; start < n; start += BLOCK_ROWS) {
    const rows = Math.min(BLOCK_ROWS, n - start);
    for (let r = 0; r < rows; r++) {
      const i = start + r;
      const off = i * cols;
      const w = X[off + d]!;
      const root = Math.sqrt(w);
      const wy = w * y[i]!;
      for (let j = 0; j < d; j++) {
        const x = X[off + j]!;
        block[r * d + j] = root * x;
        colSums[j]! += w * x;
        xty[j]! += wy * x;
      }
      sw += w;
      sy += wy;
      syy += wy * y[i]!;
    }
    gramUpper(block, rows, d, gram);
  }
  const tail = d * d + 2 * d;
  out[tail] = sy;
  out[tail + 1] = syy;
  out[tail + 2] = sw;
}

registerKernel({
  name: LINEAR_TSQR,
  resultLength: (args: KernelArgs, cols: number) => {
    const p = tsqrWidth(featuresOf(cols, args), args.intercept === true);
    return p * p;
  },
  // The R factor of [R_a; R_b] is the R factor of the rows of both partitions.
  combine(a: Float64Array, b: Float64Array): void {
    const p = Math.round(Math.sqrt(a.length));
    qrStackRows(a, p, b, p);
  },
  run(part: DesignMatrix, args: KernelArgs, out: Float64Array): void {
    const { rows: n, cols, X, y } = part;
    const weighted = args.weighted === true;
    const intercept = args.intercept === true;
    const d = featuresOf(cols, args);
    const p = tsqrWidth(d, intercept);
    const q = intercept ? 1 : 0;
    // The block is folded into R (out, zero to start) a block of rows at a time: memory stays at
    // BLOCK_ROWS rows whatever the partition's size.
    const block = new Float64Array(BLOCK_ROWS * p);
    const work = new Float64Array(p);
    for (let start = 0; start < n; start += BLOCK_ROWS) {
      const rows = Math.min(BLOCK_ROWS, n - start);
      for (let r = 0; r < rows; r++) {
        const i = start + r;
        const off = i * cols;
        const root = weighted ? Math.sqrt(X[off + d]!) : 1;
        const b = r * p;
        if (intercept) block[b] = root;
        for (let j = 0; j < d; j++) block[b + q + j] = root * X[off + j]!;
        block[b + p - 1] = root * y[i]!;
      }
      qrStackRows(out, p, block, rows, work);
    }
  },
});
