/**
 * Regression metrics with scikit-learn 1.2 semantics, so a distml score can be set beside the one
 * scikit-learn prints for the same predictions.
 *
 * `R²` and explained variance follow scikit-learn's `force_finite=True`: when `yTrue` is constant
 * the score is 1 for a perfect prediction and 0 otherwise, instead of NaN or -Infinity.
 */
import { DistmlError } from '../errors.ts';

/** The summary {@link regressionScores} returns. */
export interface RegressionScores {
  r2: number;
  rmse: number;
  mae: number;
  mse: number;
  explainedVariance: number;
}

/** Mean squared error. */
export function mse(yTrue: Float64Array, yPred: Float64Array): number {
  const n = checkPair('mse', yTrue, yPred);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const r = yTrue[i]! - yPred[i]!;
    sum += r * r;
  }
  return sum / n;
}

/** Root mean squared error, in the units of the target. */
export function rmse(yTrue: Float64Array, yPred: Float64Array): number {
  return Math.sqrt(mse(yTrue, yPred));
}

/** Mean absolute error. */
export function mae(yTrue: Float64Array, yPred: Float64Array): number {
  const n = checkPair('mae', yTrue, yPred);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.abs(yTrue[i]! - yPred[i]!);
  return sum / n;
}

/** Coefficient of determination: `1 - Σ(y - ŷ)² / Σ(y - ȳ)²`. */
export function r2(yTrue: Float64Array, yPred: Float64Array): number {
  const n = checkPair('r2', yTrue, yPred);
  let sumY = 0;
  for (let i = 0; i < n; i++) sumY += yTrue[i]!;
  const mean = sumY / n;
  let residual = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const r = yTrue[i]! - yPred[i]!;
    const c = yTrue[i]! - mean;
    residual += r * r;
    total += c * c;
  }
  return finiteScore(residual, total);
}

/**
 * Explained variance: `1 - Var(y - ŷ) / Var(y)`. Unlike R² it ignores a constant bias in the
 * predictions, so the gap between the two measures that bias.
 */
export function explainedVariance(yTrue: Float64Array, yPred: Float64Array): number {
  const n = checkPair('explainedVariance', yTrue, yPred);
  let sumY = 0;
  let sumR = 0;
  for (let i = 0; i < n; i++) {
    sumY += yTrue[i]!;
    sumR += yTrue[i]! - yPred[i]!;
  }
  const meanY = sumY / n;
  const meanR = sumR / n;
  let varR = 0;
  let varY = 0;
  for (let i = 0; i < n; i++) {
    const r = yTrue[i]! - yPred[i]! - meanR;
    const c = yTrue[i]! - meanY;
    varR += r * r;
    varY += c * c;
  }
  // Divided by n like scikit-learn's np.average, so the ratio rounds the same way.
  return finiteScore(varR / n, varY / n);
}

/** Every headline regression score. */
export function regressionScores(yTrue: Float64Array, yPred: Float64Array): RegressionScores {
  const m = mse(yTrue, yPred);
  return {
    r2: r2(yTrue, yPred),
    rmse: Math.sqrt(m),
    mae: mae(yTrue, yPred),
    mse: m,
    explainedVariance: explainedVariance(yTrue, yPred),
  };
}

/** `1 - num / den`, with scikit-learn's `force_finite` answers when either is 0. */
function finiteScore(num: number, den: number): number {
  if (num === 0) return 1;
  if (den === 0) return 0;
  return 1 - num / den;
}

function checkPair(fn: string, yTrue: Float64Array, yPred: Float64Array): number {
  const n = yTrue.length;
  if (yPred.length !== n) {
    throw new DistmlError(
      'DATA_VALUE',
      `${fn}: yTrue has ${n} samples but yPred has ${yPred.length}; they must match one to one`,
    );
  }
  if (n === 0) throw new DistmlError('DATA_EMPTY', `${fn}: yTrue and yPred are empty`);
  checkFinite(fn, 'yTrue', yTrue);
  checkFinite(fn, 'yPred', yPred);
  return n;
}

function checkFinite(fn: string, name: string, x: Float64Array): void {
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i]!)) {
      throw new DistmlError(
        'DATA_VALUE',
        `${fn}: ${name}[${i}] is ${x[i]}`,
        'drop or impute missing values first',
      );
    }
  }
}
