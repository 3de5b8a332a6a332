/**
 * The numeric form models train on: a row-major feature matrix, a target vector, and optional
 * sample weights. Preprocessing turns a {@link Frame} into one; the engine splits it into
 * partitions, each a zero-copy view of a block of rows.
 */

/** A row-major n×d float64 feature matrix with its targets. */
export interface DesignMatrix {
  /** Number of rows n. */
  readonly rows: number;
  /** Number of features d. */
  readonly cols: number;
  /** Features, row-major, length n·d. */
  readonly X: Float64Array;
  /** Targets, length n: values for regression, class indices 0..k-1 for classification. */
  readonly y: Float64Array;
}

/** Rows [start, end) of `m` as views (no copy). */
export function sliceRows(m: DesignMatrix, start: number, end: number): DesignMatrix {
  return {
    rows: end - start,
    cols: m.cols,
    X: m.X.subarray(start * m.cols, end * m.cols),
    y: m.y.subarray(start, end),
  };
}

/** Contiguous row ranges [start, end) that split `rows` into `parts` blocks differing by at most one row. */
export function blockRanges(rows: number, parts: number): Array<[number, number]> {
  const p = Math.max(1, Math.min(parts, Math.max(1, rows)));
  const out: Array<[number, number]> = [];
  const base = Math.floor(rows / p);
  const extra = rows % p;
  let at = 0;
  for (let i = 0; i < p; i++) {
    const size = base + (i < extra ? 1 : 0);
    out.push([at, at + size]);
    at += size;
  }
  return out;
}
