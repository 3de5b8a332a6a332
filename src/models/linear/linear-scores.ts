/**
 * What every linear model does at predict time: scores X·Wᵀ + b, and for classifiers the class of each row
 * from them. One implementation, so logistic regression, the linear SVC and the SGD classifier
 * cannot drift apart in how they break ties or lay out their scores.
 */

/**
 * Scores X·Wᵀ + b, row-major rows×r, for W an r×d row-major matrix and b of length r.
 * @param X rows×d features, row-major
 */
export function linearScores(
  X: Float64Array,
  rows: number,
  coef: Float64Array,
  intercept: Float64Array,
  d: number,
): Float64Array {
  const r = intercept.length;
  const out = new Float64Array(rows * r);
  for (let i = 0; i < rows; i++) {
    const x = i * d;
    for (let c = 0; c < r; c++) {
      let z = intercept[c]!;
      const w = c * d;
      for (let j = 0; j < d; j++) z += X[x + j]! * coef[w + j]!;
      out[i * r + c] = z;
    }
  }
  return out;
}

/**
 * The class index of each row from its scores: binary models have one score column (positive
 * means class 1), multiclass ones k columns and take the largest.
 */
export function classesFromScores(z: Float64Array, rows: number, classes: number): Float64Array {
  const k = classes;
  const out = new Float64Array(rows);
  if (k === 2) {
    for (let i = 0; i < rows; i++) out[i] = z[i]! > 0 ? 1 : 0;
    return out;
  }
  // Ties go to the lower class index, as numpy's argmax does in scikit-learn.
  for (let i = 0; i < rows; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (z[i * k + c]! > z[i * k + best]!) best = c;
    out[i] = best;
  }
  return out;
}
