/**
 * Classification metrics with scikit-learn 1.2 semantics, so a distml score can be set beside the
 * one scikit-learn prints for the same predictions.
 *
 * Labels are class indices `0..k-1` in an `Int32Array`; probabilities are row-major `n × k` in a
 * `Float64Array`. Where scikit-learn divides by zero and would warn, these return 0
 * (`zero_division=0`). Inputs are checked up front and every refusal names the metric, the array
 * and the bad value.
 */
import { DistmlError } from '../errors.ts';

/** How per-class precision, recall and F1 are combined into one number. */
export type Average = 'binary' | 'macro' | 'micro' | 'weighted';

/** How per-class ROC AUCs are combined in the one-vs-rest multi-class score. */
export type AucAverage = 'macro' | 'weighted';

/** Precision, recall and F1 under one averaging mode. */
export interface PrecisionRecallF1 {
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
}

/** Precision, recall and F1 of every class `0..k-1`, and how many samples of each class there are. */
export interface PerClassScores {
  readonly precision: Float64Array;
  readonly recall: Float64Array;
  readonly f1: Float64Array;
  /** Number of samples whose true class is each class. */
  readonly support: Int32Array;
}

/** The summary {@link classificationScores} returns. */
export interface ClassificationScores {
  accuracy: number;
  balancedAccuracy: number;
  precisionMacro: number;
  recallMacro: number;
  f1Macro: number;
  f1Micro: number;
  f1Weighted: number;
  /** Present when probabilities were given and there are at least two classes. */
  logLoss?: number;
  /**
   * Binary AUC on `proba[:, 1]` for two classes, one-vs-rest macro AUC for more. Present when
   * probabilities were given and every class occurs in `yTrue` (AUC is undefined otherwise).
   */
  rocAuc?: number;
}

const AVERAGES: readonly Average[] = ['binary', 'macro', 'micro', 'weighted'];

/** Fraction of samples whose predicted class equals the true one. */
export function accuracy(yTrue: Int32Array, yPred: Int32Array): number {
  const n = checkPair('accuracy', 'yTrue', yTrue.length, 'yPred', yPred.length);
  let hits = 0;
  for (let i = 0; i < n; i++) if (yTrue[i] === yPred[i]) hits++;
  return hits / n;
}

/**
 * Mean recall over the classes that occur in `yTrue`. A class that is only ever predicted has no
 * recall to average, so scikit-learn leaves it out; so do we.
 */
export function balancedAccuracy(yTrue: Int32Array, yPred: Int32Array, nClasses: number): number {
  return balancedFromCounts(classCounts('balancedAccuracy', yTrue, yPred, nClasses));
}

/**
 * The `k × k` confusion matrix, row-major: entry `[t * k + p]` counts samples of true class `t`
 * predicted as class `p`.
 */
export function confusionMatrix(yTrue: Int32Array, yPred: Int32Array, nClasses: number): Int32Array {
  const n = checkPair('confusionMatrix', 'yTrue', yTrue.length, 'yPred', yPred.length);
  checkClassCount('confusionMatrix', nClasses, 1);
  checkLabels('confusionMatrix', 'yTrue', yTrue, nClasses);
  checkLabels('confusionMatrix', 'yPred', yPred, nClasses);
  const out = new Int32Array(nClasses * nClasses);
  for (let i = 0; i < n; i++) out[yTrue[i]! * nClasses + yPred[i]!]!++;
  return out;
}

/**
 * Precision, recall and F1 averaged as scikit-learn's `precision_recall_fscore_support` does with
 * `zero_division=0`.
 *
 * - `binary`: the scores of `positiveClass` alone; refused when more than two classes occur in
 *   `yTrue` and `yPred` together, as scikit-learn refuses it.
 * - `macro`: unweighted mean over the classes that occur in `yTrue` or `yPred` (scikit-learn's
 *   default label set); a class seen in neither is not averaged in.
 * - `micro`: from the global counts of true positives, predictions and actuals.
 * - `weighted`: mean weighted by each class's support in `yTrue`.
 *
 * F1 is `2PR / (P + R)` per class, and for `macro` and `weighted` it is the mean of the per-class
 * F1s, not the F1 of the mean precision and recall.
 *
 * @param positiveClass - the class scored under `binary`; ignored otherwise
 * @defaultValue positiveClass = 1
 */
export function precisionRecallF1(
  yTrue: Int32Array,
  yPred: Int32Array,
  nClasses: number,
  average: Average,
  positiveClass = 1,
): PrecisionRecallF1 {
  if (!AVERAGES.includes(average)) {
    throw new DistmlError(
      'PARAM_INVALID',
      `precisionRecallF1: average '${String(average)}' is not one of ${AVERAGES.join(', ')}`,
    );
  }
  return averagedFromCounts(classCounts('precisionRecallF1', yTrue, yPred, nClasses), average, positiveClass);
}

/**
 * Precision, recall, F1 and support of each class `0..k-1` (scikit-learn's `average=None` with
 * `labels=range(k)`); 0 wherever a denominator is 0.
 */
export function precisionRecallF1PerClass(
  yTrue: Int32Array,
  yPred: Int32Array,
  nClasses: number,
): PerClassScores {
  const { tp, predicted, actual } = classCounts('precisionRecallF1PerClass', yTrue, yPred, nClasses);
  const precision = new Float64Array(nClasses);
  const recall = new Float64Array(nClasses);
  const f1 = new Float64Array(nClasses);
  const support = new Int32Array(nClasses);
  for (let c = 0; c < nClasses; c++) {
    const p = ratio(tp[c]!, predicted[c]!);
    const r = ratio(tp[c]!, actual[c]!);
    precision[c] = p;
    recall[c] = r;
    f1[c] = fScore(p, r);
    support[c] = actual[c]!;
  }
  return { precision, recall, f1, support };
}

/**
 * Area under the ROC curve for labels 0/1 and scores where larger means "more likely 1".
 *
 * Computed as the Mann-Whitney statistic with tied scores counted one half, which is exactly the
 * trapezoidal area under scikit-learn's ROC curve; the count is an integer, so the only rounding is
 * the final division.
 *
 * @throws DistmlError `DATA_VALUE` when only one class is present, a label is not 0 or 1, or a score
 *   is not finite
 */
export function rocAuc(yTrue01: Int32Array, scores: Float64Array): number {
  const n = checkPair('rocAuc', 'yTrue', yTrue01.length, 'scores', scores.length);
  checkFinite('rocAuc', 'scores', scores);
  let positives = 0;
  for (let i = 0; i < n; i++) {
    const y = yTrue01[i]!;
    if (y !== 0 && y !== 1) {
      throw new DistmlError('DATA_VALUE', `rocAuc: yTrue[${i}] is ${y}, but binary labels must be 0 or 1`);
    }
    positives += y;
  }
  if (positives === 0 || positives === n) {
    throw new DistmlError(
      'DATA_VALUE',
      `rocAuc: yTrue holds only class ${yTrue01[0]} (${n} samples); ROC AUC needs both classes present`,
      'evaluate on a split that contains both classes, e.g. a stratified one',
    );
  }
  const pos = new Float64Array(positives);
  const neg = new Float64Array(n - positives);
  let p = 0;
  let q = 0;
  for (let i = 0; i < n; i++) {
    if (yTrue01[i] === 1) pos[p++] = scores[i]!;
    else neg[q++] = scores[i]!;
  }
  return mannWhitneyAuc(pos, neg);
}

/**
 * One-vs-rest ROC AUC for `k` classes, like scikit-learn's
 * `roc_auc_score(y, proba, multi_class='ovr', average=…, labels=range(k))`: the AUC of each class
 * against the rest, averaged plainly (`macro`) or by class support (`weighted`). With two classes
 * it is the binary AUC on `proba[:, 1]`, as in scikit-learn.
 *
 * For three or more classes the rows of `proba` must sum to 1 (scikit-learn's `np.allclose` test),
 * since a one-vs-rest score over arbitrary scores is rarely what was meant.
 *
 * @defaultValue average = 'macro'
 * @throws DistmlError `DATA_VALUE` naming the class when a class never occurs in `yTrue`
 */
export function rocAucOvr(
  yTrue: Int32Array,
  proba: Float64Array,
  nClasses: number,
  average: AucAverage = 'macro',
): number {
  if (average !== 'macro' && average !== 'weighted') {
    throw new DistmlError(
      'PARAM_INVALID',
      `rocAucOvr: average '${String(average)}' is not one of macro, weighted`,
    );
  }
  checkClassCount('rocAucOvr', nClasses, 2);
  const n = checkProba('rocAucOvr', yTrue, proba, nClasses);
  checkLabels('rocAucOvr', 'yTrue', yTrue, nClasses);
  const support = new Float64Array(nClasses);
  for (let i = 0; i < n; i++) support[yTrue[i]!]!++;
  for (let c = 0; c < nClasses; c++) {
    if (support[c] === 0 || support[c] === n) {
      throw new DistmlError(
        'DATA_VALUE',
        `rocAucOvr: class ${c} ${support[c] === 0 ? 'never occurs' : 'is the only class'} in yTrue (${n} samples); its one-vs-rest AUC is undefined`,
        'evaluate on a split that contains every class, e.g. a stratified one',
      );
    }
  }
  if (nClasses > 2) {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let c = 0; c < nClasses; c++) s += proba[i * nClasses + c]!;
      if (Math.abs(1 - s) > 1e-8 + 1e-5 * Math.abs(s)) {
        throw new DistmlError(
          'DATA_VALUE',
          `rocAucOvr: row ${i} of proba sums to ${s}, not 1; one-vs-rest AUC needs class probabilities`,
        );
      }
    }
  }
  const posBuf = new Float64Array(n);
  const negBuf = new Float64Array(n);
  // scikit-learn scores two classes as one binary problem on the second column.
  const first = nClasses === 2 ? 1 : 0;
  let total = 0;
  let weights = 0;
  for (let c = first; c < nClasses; c++) {
    let p = 0;
    let q = 0;
    for (let i = 0; i < n; i++) {
      const s = proba[i * nClasses + c]!;
      if (yTrue[i] === c) posBuf[p++] = s;
      else negBuf[q++] = s;
    }
    const w = average === 'weighted' ? support[c]! : 1;
    total += w * mannWhitneyAuc(posBuf.subarray(0, p), negBuf.subarray(0, q));
    weights += w;
  }
  return total / weights;
}

/**
 * Mean cross-entropy of the true classes, like scikit-learn 1.2's `log_loss(y, proba,
 * labels=range(k))`: probabilities are clipped to `[eps, 1 - eps]` and each row is renormalised to
 * sum to 1 before the log.
 *
 * @param eps - clipping bound; scikit-learn 1.2's default `eps='auto'` is the float64 machine
 *   epsilon (older releases used 1e-15)
 * @defaultValue eps = Number.EPSILON
 */
export function logLoss(
  yTrue: Int32Array,
  proba: Float64Array,
  nClasses: number,
  eps = Number.EPSILON,
): number {
  checkClassCount('logLoss', nClasses, 2);
  const n = checkProba('logLoss', yTrue, proba, nClasses);
  checkLabels('logLoss', 'yTrue', yTrue, nClasses);
  if (!(eps > 0 && eps < 0.5)) {
    throw new DistmlError('PARAM_INVALID', `logLoss: eps is ${eps}, expected 0 < eps < 0.5`);
  }
  const hi = 1 - eps;
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const row = i * nClasses;
    let sum = 0;
    for (let c = 0; c < nClasses; c++) sum += clip(proba[row + c]!, eps, hi);
    loss -= Math.log(clip(proba[row + yTrue[i]!]!, eps, hi) / sum);
  }
  return loss / n;
}

/**
 * Every headline classification score; the per-class counts are taken once and shared.
 *
 * @param proba - row-major `n × k` class probabilities, or undefined when the model has none; the
 *   log loss and ROC AUC need it
 */
export function classificationScores(
  yTrue: Int32Array,
  yPred: Int32Array,
  proba: Float64Array | undefined,
  nClasses: number,
): ClassificationScores {
  const counts = classCounts('classificationScores', yTrue, yPred, nClasses);
  if (proba !== undefined) checkProba('classificationScores', yTrue, proba, nClasses);
  const { tp, actual } = counts;
  let hits = 0;
  for (let c = 0; c < nClasses; c++) hits += tp[c]!;
  const macro = averagedFromCounts(counts, 'macro', 1);
  const out: ClassificationScores = {
    accuracy: hits / yTrue.length,
    balancedAccuracy: balancedFromCounts(counts),
    precisionMacro: macro.precision,
    recallMacro: macro.recall,
    f1Macro: macro.f1,
    f1Micro: averagedFromCounts(counts, 'micro', 1).f1,
    f1Weighted: averagedFromCounts(counts, 'weighted', 1).f1,
  };
  if (proba === undefined || nClasses < 2) return out;
  out.logLoss = logLoss(yTrue, proba, nClasses);
  // A class missing from yTrue leaves its AUC undefined; a summary omits it rather than failing.
  if (actual.every((a) => a > 0)) out.rocAuc = rocAucOvr(yTrue, proba, nClasses, 'macro');
  return out;
}

/** Per-class counts: true positives, how often each class was predicted, and how often it is true. */
interface ClassCounts {
  readonly tp: Int32Array;
  readonly predicted: Int32Array;
  readonly actual: Int32Array;
}

function classCounts(fn: string, yTrue: Int32Array, yPred: Int32Array, k: number): ClassCounts {
  const n = checkPair(fn, 'yTrue', yTrue.length, 'yPred', yPred.length);
  checkClassCount(fn, k, 1);
  checkLabels(fn, 'yTrue', yTrue, k);
  checkLabels(fn, 'yPred', yPred, k);
  const tp = new Int32Array(k);
  const predicted = new Int32Array(k);
  const actual = new Int32Array(k);
  for (let i = 0; i < n; i++) {
    const t = yTrue[i]!;
    const p = yPred[i]!;
    actual[t]!++;
    predicted[p]!++;
    if (t === p) tp[t]!++;
  }
  return { tp, predicted, actual };
}

function balancedFromCounts({ tp, actual }: ClassCounts): number {
  let sum = 0;
  let present = 0;
  for (let c = 0; c < actual.length; c++) {
    if (actual[c] === 0) continue;
    sum += tp[c]! / actual[c]!;
    present++;
  }
  return sum / present;
}

function averagedFromCounts(counts: ClassCounts, average: Average, positiveClass: number): PrecisionRecallF1 {
  const { tp, predicted, actual } = counts;
  const k = actual.length;
  if (average === 'binary') {
    let present = 0;
    for (let c = 0; c < k; c++) if (actual[c]! + predicted[c]! > 0) present++;
    if (present > 2) {
      throw new DistmlError(
        'DATA_VALUE',
        `precisionRecallF1: average 'binary' needs at most two classes, but yTrue and yPred hold ${present}`,
        "use average 'macro', 'micro' or 'weighted' for more than two classes",
      );
    }
    if (!Number.isInteger(positiveClass) || positiveClass < 0 || positiveClass >= k) {
      throw new DistmlError(
        'PARAM_INVALID',
        `precisionRecallF1: positiveClass is ${positiveClass}, outside the class range 0..${k - 1}`,
      );
    }
    if (present === 2 && actual[positiveClass]! + predicted[positiveClass]! === 0) {
      throw new DistmlError(
        'DATA_VALUE',
        `precisionRecallF1: positiveClass ${positiveClass} occurs in neither yTrue nor yPred, which hold two other classes`,
      );
    }
    const p = ratio(tp[positiveClass]!, predicted[positiveClass]!);
    const r = ratio(tp[positiveClass]!, actual[positiveClass]!);
    return { precision: p, recall: r, f1: fScore(p, r) };
  }
  if (average === 'micro') {
    let tpSum = 0;
    let predSum = 0;
    let trueSum = 0;
    for (let c = 0; c < k; c++) {
      tpSum += tp[c]!;
      predSum += predicted[c]!;
      trueSum += actual[c]!;
    }
    const p = ratio(tpSum, predSum);
    const r = ratio(tpSum, trueSum);
    return { precision: p, recall: r, f1: fScore(p, r) };
  }
  let sumP = 0;
  let sumR = 0;
  let sumF = 0;
  let weights = 0;
  for (let c = 0; c < k; c++) {
    if (actual[c]! + predicted[c]! === 0) continue;
    const w = average === 'weighted' ? actual[c]! : 1;
    const p = ratio(tp[c]!, predicted[c]!);
    const r = ratio(tp[c]!, actual[c]!);
    sumP += w * p;
    sumR += w * r;
    sumF += w * fScore(p, r);
    weights += w;
  }
  return { precision: sumP / weights, recall: sumR / weights, f1: sumF / weights };
}

/**
 * AUC from the scores of the positives and of the negatives; sorts both in place. Twice the
 * Mann-Whitney U is an integer (ties count one half each), so it is exact in a double.
 */
function mannWhitneyAuc(pos: Float64Array, neg: Float64Array): number {
  pos.sort();
  neg.sort();
  const P = pos.length;
  const N = neg.length;
  let twiceU = 0;
  let below = 0;
  let i = 0;
  while (i < P) {
    const v = pos[i]!;
    let m = 0;
    while (i < P && pos[i] === v) {
      m++;
      i++;
    }
    while (below < N && neg[below]! < v) below++;
    let upTo = below;
    while (upTo < N && neg[upTo] === v) upTo++;
    twiceU += m * (2 * below + (upTo - below));
    below = upTo;
  }
  return twiceU / (2 * P * N);
}

function ratio(num: number, den: number): number {
  return den === 0 ? 0 : num / den;
}

/** F1 from precision and recall, as scikit-learn 1.2 computes it (0 when both are 0). */
function fScore(p: number, r: number): number {
  const den = p + r;
  return den === 0 ? 0 : (2 * p * r) / den;
}

function clip(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}

function checkPair(fn: string, aName: string, a: number, bName: string, b: number): number {
  if (a !== b) {
    throw new DistmlError(
      'DATA_VALUE',
      `${fn}: ${aName} has ${a} samples but ${bName} has ${b}; they must match one to one`,
    );
  }
  if (a === 0) throw new DistmlError('DATA_EMPTY', `${fn}: ${aName} and ${bName} are empty`);
  return a;
}

function checkClassCount(fn: string, k: number, min: number): void {
  if (!Number.isInteger(k) || k < min) {
    throw new DistmlError('PARAM_INVALID', `${fn}: nClasses is ${k}, expected an integer >= ${min}`);
  }
}

function checkLabels(fn: string, name: string, y: Int32Array, k: number): void {
  for (let i = 0; i < y.length; i++) {
    const v = y[i]!;
    if (v < 0 || v >= k) {
      throw new DistmlError(
        'DATA_VALUE',
        `${fn}: ${name}[${i}] is ${v}, outside the class range 0..${k - 1} (nClasses = ${k})`,
      );
    }
  }
}

/** Checks that `proba` is `n × k` for the `n` labels of `yTrue` and finite; returns `n`. */
function checkProba(fn: string, yTrue: Int32Array, proba: Float64Array, k: number): number {
  const n = yTrue.length;
  if (proba.length !== n * k) {
    throw new DistmlError(
      'DATA_VALUE',
      `${fn}: proba has ${proba.length} values but yTrue has ${n} samples; expected ${n} rows × ${k} classes = ${n * k}`,
    );
  }
  if (n === 0) throw new DistmlError('DATA_EMPTY', `${fn}: yTrue and proba are empty`);
  checkFinite(fn, 'proba', proba);
  return n;
}

function checkFinite(fn: string, name: string, x: Float64Array): void {
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i]!)) throw new DistmlError('DATA_VALUE', `${fn}: ${name}[${i}] is ${x[i]}`);
  }
}
