/**
 * Targets: class labels for classifiers (sorted like scikit-learn's LabelEncoder: numerically for
 * numeric labels, by code point for strings) and finite numbers for regressors.
 */
import { type Column, MISSING_CODE } from '../data/frame.ts';
import { TargetError } from '../errors.ts';
import { classesFromSummary, isSmallLabel, SMALL_LABELS, summarizeLabels } from './summaries.ts';

/** A label table's entry for a value whose class was not looked up yet (unknown labels are -1). */
const NOT_LOOKED_UP = -2;

/** The classes a classifier learned, in index order. */
export interface LabelEncoding {
  /** Whether labels were numbers (written back as numbers) or strings. */
  readonly kind: 'number' | 'string';
  /** Class labels as text, sorted; class index i is `classes[i]`. */
  readonly classes: readonly string[];
}

/** Learns the classes of a target column. @throws TargetError for missing values or a single class */
export function fitLabels(column: Column): LabelEncoding {
  const missing = countMissing(column);
  if (missing.count > 0) {
    throw new TargetError(
      `target column '${column.name}' has ${missing.count} missing value(s), first in data row ${missing.first + 1}`,
      'fill or drop those rows',
    );
  }
  return classesFromSummary(summarizeLabels(column));
}

/**
 * Class indices of `column` under `encoding`. Labels the encoding does not know become -1 when
 * `allowUnknown`, otherwise a TargetError names the first.
 */
export function encodeLabels(encoding: LabelEncoding, column: Column, allowUnknown = false): Int32Array {
  const index = new Map(encoding.classes.map((c, i) => [c, i]));
  const n = column.kind === 'number' ? column.values.length : column.codes.length;
  const out = new Int32Array(n);
  // Labels are classes by their text; each distinct value's text is looked up once, not per row:
  // small whole numbers in a table, other values in a Map.
  const byValue = new Map<number, number>();
  const bySmall = new Int32Array(column.kind === 'number' ? SMALL_LABELS : 0).fill(NOT_LOOKED_UP);
  const classOf = (label: string) => index.get(label) ?? -1;
  const byCode = column.kind === 'category' ? Int32Array.from(column.levels, classOf) : undefined;
  for (let i = 0; i < n; i++) {
    let k: number;
    if (column.kind === 'number') {
      const v = column.values[i]!;
      if (Number.isNaN(v)) k = -1;
      else if (isSmallLabel(v)) {
        k = bySmall[v]!;
        if (k === NOT_LOOKED_UP) k = bySmall[v] = classOf(String(v));
      } else {
        const known = byValue.get(v);
        k = known ?? classOf(String(v));
        if (known === undefined) byValue.set(v, k);
      }
    } else {
      const c = column.codes[i]!;
      k = c === MISSING_CODE ? -1 : byCode![c]!;
    }
    if (k < 0 && !allowUnknown) {
      const label = labelAt(column, i);
      throw new TargetError(
        `target column '${column.name}' holds ${label === null ? 'a missing value' : `label '${label}'`} in data row ${i + 1}, ` +
          `which the model does not know (classes: ${encoding.classes.join(', ')})`,
      );
    }
    out[i] = k;
  }
  return out;
}

/** The label of row `i` as text, or null when it is missing. */
function labelAt(column: Column, i: number): string | null {
  if (column.kind === 'number') {
    const v = column.values[i]!;
    return Number.isNaN(v) ? null : String(v);
  }
  const c = column.codes[i]!;
  return c === MISSING_CODE ? null : column.levels[c]!;
}

/** The values of a regression target. @throws TargetError when it is text or has missing values */
export function regressionTarget(column: Column): Float64Array {
  if (column.kind !== 'number') {
    throw new TargetError(
      `target column '${column.name}' holds text (e.g. '${column.levels[0] ?? ''}'), but a regressor needs numbers`,
      'use a classifier such as logistic-regression for class labels',
    );
  }
  const missing = countMissing(column);
  if (missing.count > 0) {
    throw new TargetError(
      `target column '${column.name}' has ${missing.count} missing value(s), first in data row ${missing.first + 1}`,
      'fill or drop those rows',
    );
  }
  for (let i = 0; i < column.values.length; i++) {
    if (!Number.isFinite(column.values[i]!)) {
      throw new TargetError(`target column '${column.name}' holds ${column.values[i]} in data row ${i + 1}`);
    }
  }
  return column.values;
}

function countMissing(column: Column): { count: number; first: number } {
  let count = 0;
  let first = -1;
  const n = column.kind === 'number' ? column.values.length : column.codes.length;
  for (let i = 0; i < n; i++) {
    const missing =
      column.kind === 'number' ? Number.isNaN(column.values[i]!) : column.codes[i] === MISSING_CODE;
    if (missing) {
      if (first < 0) first = i;
      count++;
    }
  }
  return { count, first };
}
