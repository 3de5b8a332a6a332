/**
 * The matrix a model trains on, built the same way wherever rows are encoded: on the driver, or on
 * a worker from the raw rows the driver sent (frame-partitions.ts) or from its split of a source
 * (source-tasks.ts). One function, so the three cannot drift apart.
 */
import type { DesignMatrix } from '../data/design-matrix.ts';
import type { Frame } from '../data/frame.ts';
import { applyPlan, type PreprocessPlan } from '../preprocess/preprocessor.ts';
import { appendWeightColumn } from './sample-weight.ts';

/**
 * `features` encoded with `plan`, the sample weights (when given) as the last column, and the
 * targets `y`, all in memory from `allocate`.
 * @param source - names the rows in errors
 */
export function trainingMatrix(
  plan: PreprocessPlan,
  features: Frame,
  y: ArrayLike<number>,
  weights: Float64Array | undefined,
  source: string,
  allocate: (length: number) => Float64Array,
): DesignMatrix {
  const encoded = applyPlan(plan, features, source, allocate);
  const { rows, cols } = encoded;
  const targets = allocate(rows);
  targets.set(y);
  if (weights === undefined) return { rows, cols, X: encoded.X, y: targets };
  // Weighted partitions hold the weights as their last column, wherever they were encoded.
  return {
    rows,
    cols: cols + 1,
    X: appendWeightColumn(encoded.X, rows, cols, weights, allocate),
    y: targets,
  };
}
