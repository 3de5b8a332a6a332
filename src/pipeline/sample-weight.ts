/**
 * Sample weights for training: read from a column of the frame, checked, and placed with their
 * rows as the last column of the training matrix (see `TrainingData.weighted`).
 */
import type { Column, Frame } from '../data/frame.ts';
import { ColumnNotFoundError, DataValueError, UsageError } from '../errors.ts';
import type { ModelDefinition } from '../models/estimator.ts';

/**
 * The weights in column `name` of `frame`, checked: the column exists, is not the target, is
 * numeric, and every value is finite and ≥ 0 with a positive sum.
 *
 * @throws UsageError when the model takes no weights, or the column is the target or missing
 * @throws DataValueError naming the column and the first bad row otherwise
 */
export function readSampleWeights(
  frame: Frame,
  name: string,
  target: string,
  definition: ModelDefinition,
): Float64Array {
  checkSampleWeightOption(name, target, definition);
  let column: Column;
  try {
    column = frame.column(name);
  } catch (err) {
    if (err instanceof ColumnNotFoundError) throw new UsageError(`--sample-weight: ${err.message}`);
    throw err;
  }
  if (column.kind !== 'number') {
    throw new DataValueError(
      `sample weight column '${name}' holds text (e.g. '${column.levels[0] ?? ''}'), not numbers`,
      'weights must be finite numbers ≥ 0',
    );
  }
  const w = column.values;
  const bad = firstBadWeight(w);
  if (bad >= 0) throw badWeightError(name, w[bad]!, { row: bad + 1 });
  let sum = 0;
  for (let i = 0; i < w.length; i++) sum += w[i]!;
  if (w.length > 0 && !(sum > 0)) throw allZeroWeightsError(name);
  return Float64Array.from(w);
}

/**
 * The checks of `--sample-weight` that need no data: the model takes weights, and the column is
 * not the target.
 * @throws UsageError naming the option and the fix
 */
export function checkSampleWeightOption(name: string, target: string, definition: ModelDefinition): void {
  if (definition.sampleWeights !== true) {
    throw new UsageError(
      `--sample-weight: ${definition.name} does not support sample weights`,
      'linear-regression and ridge do; drop the option or pick one of them',
    );
  }
  if (name === target) {
    throw new UsageError(
      `--sample-weight: column '${name}' is the target`,
      'name a column of non-negative weights other than the target',
    );
  }
}

/** Index of the first weight that is not a finite number ≥ 0 (missing is NaN), or -1. */
export function firstBadWeight(w: Float64Array): number {
  for (let i = 0; i < w.length; i++) {
    const v = w[i]!;
    if (!(Number.isFinite(v) && v >= 0)) return i;
  }
  return -1;
}

/**
 * The error for a bad weight `value` of column `name`.
 * @param where - where it is: `in data row N` (after the message), or `FILE:LINE:COLUMN` (before)
 */
export function badWeightError(
  name: string,
  value: number,
  where: { row: number } | { at: string },
): DataValueError {
  const what = Number.isNaN(value) ? 'a missing value' : String(value);
  return new DataValueError(
    'row' in where
      ? `sample weight column '${name}' holds ${what} in data row ${where.row}`
      : `${where.at}: sample weight column '${name}' holds ${what}`,
    'weights must be finite numbers ≥ 0; give the row weight 0 to leave it out',
  );
}

/** The error for weights that sum to zero: no row would count. */
export function allZeroWeightsError(name: string): DataValueError {
  return new DataValueError(
    `sample weight column '${name}' is all zeros`,
    'at least one row needs a positive weight',
  );
}

/**
 * `X` (rows × cols) with `w` appended as a last column, in memory from `allocate`. The copy costs one
 * pass and, briefly, a second matrix; only weighted fits pay it.
 */
export function appendWeightColumn(
  X: Float64Array,
  rows: number,
  cols: number,
  w: Float64Array,
  allocate: (length: number) => Float64Array,
): Float64Array {
  const out = allocate(rows * (cols + 1));
  for (let i = 0; i < rows; i++) {
    out.set(X.subarray(i * cols, (i + 1) * cols), i * (cols + 1));
    out[i * (cols + 1) + cols] = w[i]!;
  }
  return out;
}
