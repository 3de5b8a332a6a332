/**
 * Clustering metrics: the k-means objective, and agreement between two labelings with scikit-learn
 * 1.2's `adjusted_rand_score`.
 */
import { DistmlError } from '../errors.ts';

/**
 * Largest sample count for which the pair counts of {@link adjustedRandIndex} (up to n²) are exact
 * in a double: ⌊√2⁵³⌋.
 */
const MAX_ARI_SAMPLES = 94_906_265;

/**
 * Sum of squared Euclidean distances from each row to the center it is assigned to: the objective
 * k-means minimises. NaN in `X` propagates to the result.
 *
 * @param X - row-major `n × d` data
 * @param centers - row-major `k × d` cluster centers
 * @param labels - the center index of each row, in `0..k-1`
 */
export function inertia(
  X: Float64Array,
  n: number,
  d: number,
  centers: Float64Array,
  labels: Int32Array,
): number {
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(d) || d < 1) {
    throw new DistmlError(
      'PARAM_INVALID',
      `inertia: n is ${n} and d is ${d}; expected integers n >= 0, d >= 1`,
    );
  }
  if (X.length !== n * d) {
    throw new DistmlError(
      'DATA_VALUE',
      `inertia: X has ${X.length} values, expected n × d = ${n} × ${d} = ${n * d}`,
    );
  }
  if (labels.length !== n) {
    throw new DistmlError('DATA_VALUE', `inertia: labels has ${labels.length} values but X has ${n} rows`);
  }
  if (n === 0) throw new DistmlError('DATA_EMPTY', 'inertia: X has no rows');
  const k = centers.length / d;
  if (!Number.isInteger(k) || k === 0) {
    throw new DistmlError(
      'DATA_VALUE',
      `inertia: centers has ${centers.length} values, not a positive multiple of d = ${d}`,
    );
  }
  for (let i = 0; i < n; i++) {
    const c = labels[i]!;
    if (c < 0 || c >= k) {
      throw new DistmlError(
        'DATA_VALUE',
        `inertia: labels[${i}] is ${c}, outside the center range 0..${k - 1}`,
      );
    }
  }
  let total = 0;
  for (let i = 0; i < n; i++) {
    const row = i * d;
    const center = labels[i]! * d;
    for (let j = 0; j < d; j++) {
      const diff = X[row + j]! - centers[center + j]!;
      total += diff * diff;
    }
  }
  return total;
}

/**
 * Adjusted Rand index of two labelings of the same samples, like scikit-learn 1.2's
 * `adjusted_rand_score`: 1 for identical partitions (whatever the label values), about 0 for
 * independent ones, negative for worse than chance.
 *
 * Computed from the pair confusion matrix as scikit-learn does, so the degenerate cases match it:
 * when no pair is split by one labeling and joined by the other (both labelings one cluster, both all
 * singletons, a single sample) the score is 1. Labels may be any integers, negative ones included.
 *
 * @throws DistmlError `DATA_VALUE` on mismatched lengths, `DATA_EMPTY` on empty input
 */
export function adjustedRandIndex(a: Int32Array, b: Int32Array): number {
  const n = a.length;
  if (b.length !== n) {
    throw new DistmlError(
      'DATA_VALUE',
      `adjustedRandIndex: a has ${n} samples but b has ${b.length}; they must label the same samples`,
    );
  }
  if (n === 0) throw new DistmlError('DATA_EMPTY', 'adjustedRandIndex: a and b are empty');
  if (n > MAX_ARI_SAMPLES) {
    throw new DistmlError(
      'DATA_VALUE',
      `adjustedRandIndex: ${n} samples is more than the ${MAX_ARI_SAMPLES} whose pair counts are exact`,
      'score a sample of the rows',
    );
  }
  const codesA = new Int32Array(n);
  const codesB = new Int32Array(n);
  const ka = denseCodes(a, codesA);
  const kb = denseCodes(b, codesB);
  const sizeA = new Float64Array(ka);
  const sizeB = new Float64Array(kb);
  // Each (cluster in a, cluster in b) pair as one number below ka·kb ≤ n², exact in a double.
  const cells = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    sizeA[codesA[i]!]!++;
    sizeB[codesB[i]!]!++;
    cells[i] = codesA[i]! * kb + codesB[i]!;
  }
  cells.sort();
  let sumCells = 0;
  for (let i = 0; i < n; ) {
    const v = cells[i]!;
    let run = 0;
    while (i < n && cells[i] === v) {
      run++;
      i++;
    }
    sumCells += run * run;
  }
  let sumA = 0;
  for (let c = 0; c < ka; c++) sumA += sizeA[c]! * sizeA[c]!;
  let sumB = 0;
  for (let c = 0; c < kb; c++) sumB += sizeB[c]! * sizeB[c]!;
  // Ordered pair counts as in scikit-learn's pair_confusion_matrix. The final products reach n⁴, so
  // they are formed exactly in BigInt and rounded once, as scikit-learn does with Python integers.
  const sq = BigInt(sumCells);
  const tp = sq - BigInt(n);
  const fp = BigInt(sumB) - sq;
  const fn = BigInt(sumA) - sq;
  const tn = BigInt(n) * BigInt(n) - fp - fn - sq;
  if (fn === 0n && fp === 0n) return 1;
  const num = 2n * (tp * tn - fn * fp);
  const den = (tp + fn) * (fn + tn) + (tp + fp) * (fp + tn);
  return Number(num) / Number(den);
}

/** Writes the rank of each value among the distinct values of `x` into `codes`; returns how many. */
function denseCodes(x: Int32Array, codes: Int32Array): number {
  const sorted = Int32Array.from(x).sort();
  let k = 0;
  for (let i = 0; i < sorted.length; i++)
    if (i === 0 || sorted[i] !== sorted[k - 1]) sorted[k++] = sorted[i]!;
  const distinct = sorted.subarray(0, k);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    let lo = 0;
    let hi = k - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (distinct[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    codes[i] = lo;
  }
  return k;
}
